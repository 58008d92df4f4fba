"""Sedna's ``sedna.common.utils``: ``get_host_ip`` and the ``singleton`` decorator."""

from __future__ import annotations

import functools
import socket
import threading
from typing import Any, Callable

__all__ = ["get_host_ip", "singleton"]


def get_host_ip() -> str:
    """Return the address of the interface that routes to the internet, or ``127.0.0.1``.

    A UDP socket is "connected" to a public address, which only selects a route: no packet is
    sent. Without a default route the answer is ``127.0.0.1``. sedna_lib's servers do not bind
    this address by default (they bind ``0.0.0.0``, or ``127.0.0.1`` in tests).

    Returns
    -------
    str
        An IPv4 address.

    Examples
    --------
    >>> isinstance(get_host_ip(), str)
    True
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("8.8.8.8", 80))
            return sock.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def singleton(cls: type) -> Callable[..., Any]:
    """Turn a class into a function that always returns the same (thread-safely built) instance.

    As in Sedna, the class attributes are copied onto the returned function, so
    ``Decorated.attribute`` also works.

    Parameters
    ----------
    cls : type
        The class.

    Returns
    -------
    callable
        ``get_instance(*args, **kwargs)``; arguments are used by the first call only.

    Examples
    --------
    >>> @singleton
    ... class One:
    ...     x = 1
    >>> One() is One(), One.x
    (True, 1)
    """
    lock = threading.Lock()
    holder: list[Any] = []

    @functools.wraps(cls, updated=("__dict__",))
    def get_instance(*args: Any, **kwargs: Any) -> Any:
        with lock:
            if not holder:
                holder.append(cls(*args, **kwargs))
            return holder[0]

    return get_instance
