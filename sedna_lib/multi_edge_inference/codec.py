"""The multi-edge wire codec: safe by default, Sedna's pickle only behind ``SEDNA_LEGACY_PICKLE``.

Bodies of the REST services, Kafka records and shared-folder files are encoded with
:func:`sedna_lib.transport.objects.dumps` (a JSON tree plus raw numpy arrays). The data classes of
:mod:`sedna_lib.multi_edge_inference.data_classes` are on the allow-list; register your own
classes with :func:`register_type`.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..transport.objects import MEDIA_TYPE, PICKLE_MEDIA_TYPE, is_pickle, register_type, registered_types
from ..transport.objects import dumps as _dumps
from ..transport.objects import loads as _loads
from . import data_classes as _data_classes  # noqa: F401 (registers the wire types)

__all__ = ["MEDIA_TYPE", "PICKLE_MEDIA_TYPE", "Codec", "dumps", "loads", "is_pickle", "register_type",
           "registered_types"]


def dumps(obj: Any, *, legacy_pickle: bool = False) -> bytes:
    """Encode ``obj`` for the multi-edge wire.

    Parameters
    ----------
    obj : object
        Data classes, arrays, lists, dicts and scalars.
    legacy_pickle : bool, default=False
        Produce Sedna's pickle instead.

    Returns
    -------
    bytes
        The body.
    """
    return _dumps(obj, use_pickle=legacy_pickle)


def loads(data: bytes, *, legacy_pickle: bool = False) -> Any:
    """Decode a multi-edge body.

    Parameters
    ----------
    data : bytes
        The body.
    legacy_pickle : bool, default=False
        Also accept Sedna's pickle (restricted to allow-listed classes).

    Returns
    -------
    object
        The decoded object.

    Raises
    ------
    ProtocolError
        If the body is malformed, or is a pickle and ``legacy_pickle`` is off.
    """
    return _loads(data, allow_pickle=legacy_pickle)


class Codec:
    """The codec one service uses, chosen once from its configuration.

    Parameters
    ----------
    legacy_pickle : bool, default=False
        Send pickle and accept it (``SEDNA_LEGACY_PICKLE``).
    """

    def __init__(self, *, legacy_pickle: bool = False) -> None:
        self.legacy_pickle = legacy_pickle

    @classmethod
    def from_config(cls, config: Config) -> Codec:
        """Build the codec ``config.legacy_pickle`` asks for.

        Parameters
        ----------
        config : Config
            The configuration.

        Returns
        -------
        Codec
            The codec.
        """
        return cls(legacy_pickle=config.legacy_pickle)

    @property
    def media_type(self) -> str:
        """Content-Type of the bodies this codec sends."""
        return PICKLE_MEDIA_TYPE if self.legacy_pickle else MEDIA_TYPE

    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` (see :func:`dumps`).

        Parameters
        ----------
        obj : object
            What to send.

        Returns
        -------
        bytes
            The body.
        """
        return dumps(obj, legacy_pickle=self.legacy_pickle)

    def loads(self, data: bytes) -> Any:
        """Decode ``data`` (see :func:`loads`); a safe message is always accepted.

        Parameters
        ----------
        data : bytes
            The body.

        Returns
        -------
        object
            The decoded object.

        Raises
        ------
        ProtocolError
            If the body is malformed or a refused pickle.
        """
        return loads(data, legacy_pickle=self.legacy_pickle)

    def __repr__(self) -> str:
        """Return a short readable description."""
        return f"Codec(legacy_pickle={self.legacy_pickle!r})"
