"""The version and distribution name of sedna_lib, and the one way messages say how to install a piece."""

from __future__ import annotations

import re

__version__ = "0.1.0"

#: The distribution name (setup.cfg ``name``); sedna_lib is installed from a clone, a wheel or a git URL.
DISTRIBUTION = "sedna_lib"

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_EXTRA_OF_US = re.compile(rf"^{DISTRIBUTION}\[([A-Za-z0-9._-]+)\]$")
_MARKER_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _requirements() -> tuple[list[str], dict[str, list[str]]] | None:
    """Return the installed distribution's base requirements and each extra's, or None if not installed."""
    from importlib import metadata

    try:
        lines = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return None
    base: list[str] = []
    extras: dict[str, list[str]] = {}
    for line in lines:
        spec, _, marker = line.partition(";")
        found = _MARKER_EXTRA.search(marker)
        if found:
            extras.setdefault(found.group(1), []).append(spec.strip())
        elif not marker.strip():
            base.append(spec.strip())
    return base, extras


def _arg(spec: str) -> str:
    """Quote a requirement for a shell when it has more than a plain name (``>``, ``<``, ``[``)."""
    return spec if _PLAIN.match(spec) else f'"{spec}"'


def _name(spec: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", spec, maxsplit=1)[0].lower().replace("_", "-")


def install_hint(what: str) -> str:
    """Say how to install ``what``: an extra of sedna_lib, one of its requirements, or another package.

    sedna_lib is not published on a package index, so asking pip for it by name with an extra
    would fetch nothing (or someone else's project). An extra is spelt as the requirements it
    stands for, read from the installed distribution's metadata, which works wherever sedna_lib
    came from; without metadata (a source tree on ``sys.path``) the hint names the clone or wheel.

    Parameters
    ----------
    what : str
        An extra, spelt ``'sedna_lib[torch]'``; a package sedna_lib requires (``'minio'``); or any
        other pip argument (``'mindspore'``).

    Returns
    -------
    str
        A ``pip install ...`` command, with a note saying which extra it stands for.

    Examples
    --------
    >>> install_hint("mindspore")
    'pip install mindspore'
    """
    extra_match = _EXTRA_OF_US.match(what)
    extra = extra_match.group(1) if extra_match else None
    found = _requirements()
    if found is not None:
        base, extras = found
        if extra in extras:
            args = " ".join(_arg(spec) for spec in extras[extra])
            return f"pip install {args} (the '{extra}' extra of {DISTRIBUTION})"
        for spec in base:
            if _name(spec) == _name(what):
                return f"pip install {_arg(spec)} (a requirement of {DISTRIBUTION})"
    if extra_match:
        return (f'pip install "<{DISTRIBUTION} clone or wheel>[{extra}]" (the \'{extra}\' extra of '
                f"{DISTRIBUTION}, installed from where {DISTRIBUTION} came from)")
    return f"pip install {what}"
