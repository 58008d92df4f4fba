"""Transmitters: the websocket itself, or S3 objects whose URLs travel over the websocket."""

from __future__ import annotations

import abc
from typing import Any

from sedna_lib.base import BaseAlgorithm

__all__ = ["AbstractTransmitter", "WSTransmitter", "S3Transmitter"]


class AbstractTransmitter(BaseAlgorithm, abc.ABC):
    """Move encoded model payloads between a client and the aggregation server.

    ``send(data, key)`` stores or ships bytes and returns a reference (None when the bytes go
    inline on the websocket); ``recv(ref)`` returns the bytes for a reference.
    """

    @property
    def parameters(self) -> dict:
        """Sedna's parameter dict."""
        return {}

    @abc.abstractmethod
    def send(self, data: bytes, key: str = "") -> str | None:
        """Ship ``data``; return a reference, or None when it goes inline."""

    @abc.abstractmethod
    def recv(self, ref: str) -> bytes:
        """Return the bytes a reference names."""


class WSTransmitter(AbstractTransmitter):
    """Payloads go inline on the websocket (binary frames, chunked when large).

    Examples
    --------
    >>> WSTransmitter().send(b"abc") is None
    True
    """

    def __init__(self) -> None:
        pass

    def send(self, data: bytes, key: str = "") -> str | None:
        """Return None: the caller sends ``data`` inline."""
        return None

    def recv(self, ref: str) -> bytes:
        """Never called for inline payloads.

        Raises
        ------
        ValueError
            Always: inline payloads have no reference.
        """
        raise ValueError("WSTransmitter payloads are inline; there is no reference to read")


class S3Transmitter(AbstractTransmitter):
    """Payloads are objects under ``transmitter_url`` (``s3://bucket/prefix``); URLs travel on the websocket.

    Parameters
    ----------
    s3_endpoint_url : str, default=''
        S3 endpoint.
    access_key, secret_key : str, default=''
        Credentials.
    transmitter_url : str, default=''
        ``s3://bucket/prefix`` (Sedna's ``AGG_DATA_PATH``).
    storage : object, default=None
        A storage with ``write_bytes(uri, data)`` / ``read_bytes(uri)`` (a
        ``sedna_lib.storage.StorageRouter``); built from the other parameters on first use.
    """

    def __init__(self, *, s3_endpoint_url: str = "", access_key: str = "", secret_key: str = "",
                 transmitter_url: str = "", storage: Any = None) -> None:
        self.s3_endpoint_url = s3_endpoint_url
        self.access_key = access_key
        self.secret_key = secret_key
        self.transmitter_url = transmitter_url
        self.storage = storage

    def __repr__(self) -> str:
        """Show the endpoint and the URL (never the keys)."""
        return (f"S3Transmitter(s3_endpoint_url={self.s3_endpoint_url!r}, "
                f"transmitter_url={self.transmitter_url!r})")

    @property
    def parameters(self) -> dict:
        """Sedna's parameter dict (credentials included, as Sedna's)."""
        return {"s3_endpoint_url": self.s3_endpoint_url, "s3_bucket": self.transmitter_url,
                "access_key": self.access_key, "secret_key": self.secret_key}

    def _storage(self) -> Any:
        if self.storage is None:
            # Sedna builds its transmitter from credentials alone: this adapter reaches down to
            # sedna_lib's storage (a documented exception to the algorithms' import rule)
            from sedna_lib.config import Config
            from sedna_lib.storage import StorageRouter

            cfg = Config(s3_endpoint_url=self.s3_endpoint_url, access_key_id=self.access_key,
                         secret_access_key=self.secret_key)
            self.storage = StorageRouter.from_config(cfg)
        return self.storage

    def send(self, data: bytes, key: str = "") -> str | None:
        """Write ``data`` to ``<transmitter_url>/<key>`` and return that URL.

        Parameters
        ----------
        data : bytes
            The payload.
        key : str, default=''
            Object name under the prefix.

        Returns
        -------
        str
            The object's URL.
        """
        uri = self.transmitter_url.rstrip("/") + "/" + (key or "payload.bin")
        self._storage().write_bytes(uri, data)
        return uri

    def recv(self, ref: str) -> bytes:
        """Read the object at ``ref``.

        Parameters
        ----------
        ref : str
            URL returned by :meth:`send`.

        Returns
        -------
        bytes
            The payload.
        """
        return self._storage().read_bytes(ref)
