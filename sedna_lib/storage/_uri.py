"""URLs as messages show them: the password of a URL's userinfo and the values of its query hidden.

A URL may carry a password (``http://user:secret@host/...``) or a presigned signature, token or
credential in its query (``?X-Amz-Signature=...``, ``?sig=...``, ``?token=...``). Messages and the
``uri`` of storage errors end up in logs, so they show such URLs through :func:`redact_uri`, and
text that came from elsewhere (an HTTP library's exception) through :func:`redact_text`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_uri", "redact_text"]

#: What a hidden part of a URL is shown as.
REDACTED = "***"

# the userinfo of a URL inside some text: scheme://userinfo@
_USERINFO_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@\s]*)@")
# one query parameter inside some text: ?name=value or &name=value (the value up to a separator)
_QUERY_VALUE_RE = re.compile(r"([?&][^=&#?\s'\"]+=)[^&#\s'\"()<>]*")


def _redact_userinfo(userinfo: str) -> str:
    """Return ``userinfo`` with its password hidden; a user alone may be a token, and is hidden too."""
    user, sep, _password = userinfo.partition(":")
    return f"{user}:{REDACTED}" if sep else REDACTED


def redact_uri(uri: str | None) -> str | None:
    """Return ``uri`` as a message may show it: userinfo password and query values hidden.

    The scheme, host, port, path and the names of the query parameters stay, so the URL still
    says which file was meant; a query field without ``=`` is hidden whole. A userinfo without a
    password (``https://token@host``) is hidden whole, as it may be a token; a fragment is hidden
    too. A local path, or a URL with neither userinfo, query nor fragment, comes back unchanged.

    Parameters
    ----------
    uri : str or None
        A URL or path.

    Returns
    -------
    str or None
        The URL with its secrets replaced by ``***`` (None for None).

    Examples
    --------
    >>> redact_uri("https://u:pw@host/m.bin?X-Amz-Signature=abc&files=m.bin")
    'https://u:***@host/m.bin?X-Amz-Signature=***&files=***'
    >>> redact_uri("/data/model.pb")
    '/data/model.pb'
    """
    if uri is None:
        return None
    text = str(uri)
    try:
        parts = urlsplit(text)
    except ValueError:  # a broken [IPv6 host: hide what the patterns find
        return redact_text(text)
    if not parts.scheme or ("@" not in parts.netloc and not parts.query and not parts.fragment):
        return text
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{_redact_userinfo(userinfo)}@{host}"
    query = "&".join(  # a field without '=' may be a bare token: hidden whole
        f"{field.partition('=')[0]}={REDACTED}" if "=" in field else REDACTED if field else field
        for field in parts.query.split("&")) if parts.query else ""
    fragment = REDACTED if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_text(text: str, uri: str | None = None) -> str:
    """Return ``text`` (an error message from elsewhere) with URL secrets hidden.

    ``uri`` itself, written in full, is replaced by :func:`redact_uri`'s form; then every userinfo
    (``scheme://user:password@``) and every query value (``?name=value``, ``&name=value``) the text
    holds is hidden, as is the password of ``uri`` wherever it appears (also percent-decoded; one
    of 4 characters or more).

    Parameters
    ----------
    text : str
        The message.
    uri : str, default=None
        The URL the message is about.

    Returns
    -------
    str
        The message with the secrets replaced by ``***``.

    Examples
    --------
    >>> redact_text("Max retries exceeded with url: /m.bin?sig=abc&token=t (refused)")
    'Max retries exceeded with url: /m.bin?sig=***&token=*** (refused)'
    """
    text = str(text)
    if uri:
        shown = redact_uri(uri)
        text = text.replace(str(uri), shown or "")
    text = _USERINFO_RE.sub(lambda m: m.group(1) + _redact_userinfo(m.group(2)) + "@", text)
    text = _QUERY_VALUE_RE.sub(lambda m: m.group(1) + REDACTED, text)
    if uri:
        try:
            password = urlsplit(str(uri)).password
        except ValueError:
            password = None
        for secret in {password, unquote(password or "")} - {None, REDACTED}:
            if len(secret) >= 4:  # a shorter one would hide ordinary words; the patterns above found it
                text = text.replace(secret, REDACTED)
    return text
