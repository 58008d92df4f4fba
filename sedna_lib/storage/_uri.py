"""URLs as messages show them: the password of a URL's userinfo and the values of its query hidden.

A URL may carry a password (``http://user:secret@host/...``) or a presigned signature, token or
credential in its query (``?X-Amz-Signature=...``, ``?sig=...``, ``?token=...``). Messages and the
``uri`` of storage errors end up in logs, so they show such URLs through :func:`redact_uri`, and
text that came from elsewhere (an HTTP library's exception) through :func:`redact_text`.

The helpers are defined in :mod:`sedna_lib.config`, which every layer may import (the transport
clients and the configuration's own messages use them too); this module names them for storage.
"""

from __future__ import annotations

from ..config import REDACTED, redact_text, redact_uri

__all__ = ["REDACTED", "redact_uri", "redact_text"]
