"""The errors and warnings that sedna_lib raises: one root, grouped by cause."""

from __future__ import annotations

__all__ = [
    "SednaError",
    "ConfigError",
    "RegistryError",
    "NotRegisteredError",
    "ClassNotFoundError",
    "DuplicateRegistrationError",
    "PluginLoadError",
    "ParameterError",
    "NotFittedError",
    "BackendError",
    "BackendUnavailableError",
    "StorageError",
    "StorageNotFoundError",
    "StoragePermissionError",
    "TransportError",
    "TransportTimeout",
    "RemoteError",
    "ProtocolError",
    "AggregationError",
    "DataError",
    "IntegrityError",
    "ClosedError",
    "SednaWarning",
]


class SednaError(Exception):
    """Root of every error sedna_lib raises: ``except SednaError`` catches them all."""


class ConfigError(SednaError, ValueError):
    """A configuration value (usually an environment variable) is missing or malformed.

    Parameters
    ----------
    message : str
        What failed, the bad value and how to fix it.
    variable : str, default=None
        The name of the environment variable or config field at fault.
    """

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class RegistryError(SednaError, LookupError):
    """A registry lookup or registration failed.

    Parameters
    ----------
    message : str
        What failed.
    kind : str, default=None
        The registry kind (for example ``'hard_example_mining'``).
    name : str, default=None
        The registered name at fault.
    """

    def __init__(self, message: str, *, kind: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name


class NotRegisteredError(RegistryError):
    """No entry of that kind is registered under that name; the message lists the known names."""


class ClassNotFoundError(NotRegisteredError, ValueError):
    """No class of that kind and name is registered (also a ``ValueError``, as Sedna raised)."""


class DuplicateRegistrationError(RegistryError):
    """A name is already registered for that kind."""


class PluginLoadError(RegistryError):
    """An entry point failed to import; the original error is kept as ``__cause__``."""


class ParameterError(SednaError, ValueError):
    """An algorithm parameter is unknown, ill-typed or out of range."""


class NotFittedError(SednaError, ValueError, AttributeError):
    """A model was used before it was trained or loaded."""


class BackendError(SednaError):
    """A framework backend failed to train, predict, save or load."""


class BackendUnavailableError(BackendError, ImportError):
    """The framework a backend needs is not installed; the message names the extra to install."""

    @classmethod
    def missing(cls, what: str, install: str, note: str = "",
                error: BaseException | None = None) -> BackendUnavailableError:
        """Build the error for a missing package, saying how to install it.

        Parameters
        ----------
        what : str
            What is missing (``'torch'``, ``'the ray engine needs Ray, which'``).
        install : str
            What installs it: an extra spelt ``'sedna_lib[torch]'``, or a package.
        note : str, default=''
            Appended in parentheses (an alternative, or why it is needed).
        error : ImportError, default=None
            The import's failure. Where the package is there but fails to import (too old for this
            Python, or broken), the message says so and quotes it instead of calling it missing.

        Returns
        -------
        BackendUnavailableError
            ``"<what> is not installed; pip install ..."``, or ``"<what> is installed but cannot be
            imported (<error>); pip install ..."``.

        Examples
        --------
        >>> str(BackendUnavailableError.missing("mindspore", "mindspore"))
        'mindspore is not installed; pip install mindspore'
        """
        from ._version import install_hint

        state = f"is installed but cannot be imported ({error})" if _installed(error) else "is not installed"
        return cls(f"{what} {state}; {install_hint(install)}" + (f" ({note})" if note else ""))


def _installed(error: BaseException | None) -> bool:
    """Whether the package an import failed in is there: the failure is inside it, not its absence."""
    name = getattr(error, "name", None) if isinstance(error, ImportError) else None
    if not name:
        return False
    import importlib.util

    try:
        return importlib.util.find_spec(name.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


class StorageError(SednaError, OSError):
    """Reading or writing a local path, S3 object or HTTP resource failed.

    Parameters
    ----------
    message : str
        What failed and why.
    uri : str, default=None
        The path or URL at fault.
    """

    def __init__(self, message: str, *, uri: str | None = None) -> None:
        super().__init__(message)
        self.uri = uri


class StorageNotFoundError(StorageError, FileNotFoundError):
    """The path, object or URL does not exist."""


class StoragePermissionError(StorageError, PermissionError):
    """The storage refused the request: bad credentials or no permission."""


class TransportError(SednaError, OSError):
    """Talking to a peer (cloud service, aggregator, LocalController, KB) failed.

    Parameters
    ----------
    message : str
        What failed and why.
    url : str, default=None
        The peer's URL.
    """

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class TransportTimeout(TransportError, TimeoutError):
    """The peer did not answer within the configured timeout."""


class RemoteError(TransportError):
    """The peer answered with an error status.

    Parameters
    ----------
    message : str
        What failed.
    url : str, default=None
        The peer's URL.
    status_code : int, default=None
        The HTTP status (or websocket close code) the peer sent.
    """

    def __init__(self, message: str, *, url: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message, url=url)
        self.status_code = status_code


class ProtocolError(TransportError):
    """A message was malformed or unexpected."""


class AggregationError(SednaError):
    """Aggregation could not proceed: no usable updates, or updates of mismatched shapes."""


class DataError(SednaError, ValueError):
    """Input data is malformed, for example a bad line in a dataset index file."""


class IntegrityError(DataError):
    """A file does not match the SHA-256 its index gives it (replaced, tampered with or corrupted)."""


class ClosedError(SednaError, RuntimeError):
    """An object was used after ``close()`` (or ``stop()``); the message says how to go on."""


class SednaWarning(UserWarning):
    """User-facing warnings from sedna_lib (deprecations, fallbacks, ignored settings)."""
