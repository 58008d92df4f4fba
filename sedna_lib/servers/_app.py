"""Request guards shared by the HTTP services: bearer token, body-size limit, error replies, counters."""

from __future__ import annotations

import hmac
import threading
from typing import Any

from ..exceptions import BackendUnavailableError

__all__ = ["HTTPError", "RequestStats", "check_token", "read_body", "error_response", "fastapi"]


def fastapi() -> Any:
    """Import FastAPI, or say which extra installs it.

    Returns
    -------
    module
        The ``fastapi`` module.

    Raises
    ------
    BackendUnavailableError
        If FastAPI is not installed.
    """
    try:
        import fastapi as _fastapi
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailableError("fastapi is not installed; pip install sedna_lib[server]") from exc
    return _fastapi


class HTTPError(Exception):
    """Raised inside a handler to answer ``status`` with a JSON ``{"detail": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestStats:
    """Thread-safe counters a server reports on its health endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.rejected = 0
        self.failed = 0

    def count_status(self, status: int) -> None:
        """Count one request by the status it was answered with (4xx rejected, 5xx failed).

        Parameters
        ----------
        status : int
            The HTTP status.
        """
        self.count("ok" if status < 400 else "rejected" if status < 500 else "failed")

    def count(self, outcome: str) -> None:
        """Count one request: ``ok``, ``rejected`` (4xx) or ``failed`` (5xx).

        Parameters
        ----------
        outcome : str
            The outcome.

        Raises
        ------
        ValueError
            If ``outcome`` is not one of the three.
        """
        if outcome not in ("ok", "rejected", "failed"):
            raise ValueError(f"unknown request outcome {outcome!r}; use 'ok', 'rejected' or 'failed'")
        with self._lock:
            self.requests += 1
            if outcome == "rejected":
                self.rejected += 1
            elif outcome == "failed":
                self.failed += 1

    def as_dict(self) -> dict[str, int]:
        """Return the counters.

        Returns
        -------
        dict
            ``requests``, ``rejected`` and ``failed``.
        """
        with self._lock:
            return {"requests": self.requests, "rejected": self.rejected, "failed": self.failed}


def check_token(request: Any, token: str | None) -> None:
    """Require ``Authorization: Bearer <token>`` when a token is configured.

    Parameters
    ----------
    request : starlette.requests.Request
        The request.
    token : str or None
        The shared token; None disables the check.

    Raises
    ------
    HTTPError
        401 if the header is missing or wrong.
    """
    if not token:
        return
    sent = request.headers.get("authorization", "")
    scheme, _, value = sent.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise HTTPError(401, "missing or wrong bearer token (Authorization: Bearer <SEDNA_AUTH_TOKEN>)")


async def read_body(request: Any, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes without buffering them.

    Parameters
    ----------
    request : starlette.requests.Request
        The request.
    limit : int
        Largest accepted body in bytes.

    Returns
    -------
    bytes
        The body.

    Raises
    ------
    HTTPError
        413 if the body (declared or streamed) is larger than ``limit``; 400 if it is empty.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise HTTPError(400, f"bad Content-Length {declared!r}") from None
        if too_big:
            raise HTTPError(413, f"body of {declared} bytes exceeds the {limit}-byte limit "
                                 f"(SEDNA_MAX_REQUEST_BYTES)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"body exceeds the {limit}-byte limit (SEDNA_MAX_REQUEST_BYTES)")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body:
        raise HTTPError(400, "empty request body")
    return body


def error_response(status: int, message: str) -> Any:
    """Build the JSON error reply ``{"detail": message}``.

    Parameters
    ----------
    status : int
        HTTP status.
    message : str
        What was wrong and how to fix it.

    Returns
    -------
    starlette.responses.JSONResponse
        The reply.
    """
    from starlette.responses import JSONResponse

    return JSONResponse({"detail": message}, status_code=status)
