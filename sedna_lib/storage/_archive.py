"""Tar archives: safe extraction (no member may escape the target folder) and creation."""

from __future__ import annotations

import os
import tarfile

from ..exceptions import StorageError, StorageNotFoundError

__all__ = ["ARCHIVE_SUFFIXES", "is_archive", "safe_extract", "make_tar"]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")


def is_archive(path: str) -> bool:
    """Return whether ``path`` has a tar archive suffix (``.tar.gz``, ``.tgz``, ``.tar``, ...)."""
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def _parts(path: str) -> tuple[str, ...]:
    """Return the components of a member's path, textually normalised (``a/./b/`` -> ``('a', 'b')``)."""
    return tuple(p for p in os.path.normpath(path.replace("\\", "/")).split("/") if p not in ("", "."))


def _through_link(parts: tuple[str, ...], links: set[tuple[str, ...]]) -> tuple[str, ...] | None:
    """Return the first link of the archive that ``parts`` is or goes through (None if none)."""
    for end in range(1, len(parts) + 1):
        if parts[:end] in links:
            return parts[:end]
    return None


def _walk(start: tuple[str, ...], link: str, links: set[tuple[str, ...]]) -> tuple[str, ...] | None:
    """Walk a link's target from its folder; return the first link of the archive it passes, if any."""
    here = list(start)
    for part in link.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if here:
                here.pop()
            continue
        here.append(part)
        if tuple(here) in links:
            return tuple(here)
    return None


def _check_member(member: tarfile.TarInfo, root: str, archive: str, links: set[tuple[str, ...]]) -> None:
    name = member.name
    if os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
        raise StorageError(f"refusing to extract {archive}: member {name!r} has an absolute path or '..'",
                           uri=archive)
    parts = _parts(name)
    if not parts and not member.isdir():
        raise StorageError(f"refusing to extract {archive}: member {name!r} has no name of its own",
                           uri=archive)
    via = _through_link(parts, links)  # nor be written over one
    if via is not None:
        raise StorageError(f"refusing to extract {archive}: member {name!r} goes through the link "
                           f"{'/'.join(via)!r} of the archive", uri=archive)
    target = os.path.realpath(os.path.join(root, name))
    if not _inside(root, target):
        raise StorageError(f"refusing to extract {archive}: member {name!r} would land outside {root}",
                           uri=archive)
    if member.issym() or member.islnk():
        link = member.linkname
        if os.path.isabs(link):
            raise StorageError(f"refusing to extract {archive}: link {name!r} points to the absolute "
                               f"path {link!r}", uri=archive)
        base = os.path.dirname(target) if member.issym() else root
        if not _inside(root, os.path.realpath(os.path.join(base, link))):
            raise StorageError(f"refusing to extract {archive}: link {name!r} -> {link!r} points outside "
                               f"{root}", uri=archive)
        # resolved on the disk, a target through another link of the archive (not written yet) would be
        # read as plain folders: `y -> .` then `x -> y/..` looks inside and is the folder above
        via = _walk(parts[:-1] if member.issym() else (), link, links)
        if via is not None:
            raise StorageError(f"refusing to extract {archive}: link {name!r} -> {link!r} goes through the "
                               f"link {'/'.join(via)!r} of the archive", uri=archive)
        if member.issym():
            links.add(parts)
    elif not (member.isfile() or member.isdir()):
        raise StorageError(f"refusing to extract {archive}: member {name!r} is a device or fifo", uri=archive)


def safe_extract(archive: str, dst: str | None = None) -> str:
    """Extract a tar archive, refusing members that could escape ``dst``.

    Every member is checked before anything is written: absolute names, ``..`` components,
    links pointing outside the target folder, and device or fifo entries all make the whole
    extraction fail.

    Parameters
    ----------
    archive : str
        The ``.tar``/``.tar.gz``/``.tgz``/``.tar.bz2``/``.tar.xz`` file.
    dst : str, default=None
        Target folder; the archive's own folder if omitted. Created if missing.

    Returns
    -------
    str
        The target folder.

    Raises
    ------
    StorageNotFoundError
        If ``archive`` does not exist.
    StorageError
        If the archive is unreadable or a member is unsafe.
    """
    if not os.path.isfile(archive):
        raise StorageNotFoundError(f"archive {archive} does not exist", uri=archive)
    root = os.path.realpath(dst if dst is not None else os.path.dirname(os.path.abspath(archive)))
    os.makedirs(root, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members, links = tar.getmembers(), set()
            for member in members:
                _check_member(member, root, archive, links)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(root, members=members, filter="data")
            else:  # pragma: no cover - Python without PEP 706 filters; members are already checked
                tar.extractall(root, members=members)
    except (tarfile.TarError, OSError) as exc:  # a link the extraction filter refuses, a full disk, ...
        if isinstance(exc, StorageError):
            raise
        raise StorageError(f"cannot extract {archive}: {exc}", uri=archive) from exc
    return root


def make_tar(src: str, dst: str, *, arcname: str | None = None) -> str:
    """Pack the file or folder ``src`` into the gzip tar ``dst``.

    Parameters
    ----------
    src : str
        File or folder to pack.
    dst : str
        The archive to write.
    arcname : str, default=None
        Name of ``src`` inside the archive; its base name if omitted.

    Returns
    -------
    str
        ``dst``.

    Raises
    ------
    StorageNotFoundError
        If ``src`` does not exist.
    """
    if not os.path.exists(src):
        raise StorageNotFoundError(f"cannot pack {src}: it does not exist", uri=src)
    with tarfile.open(dst, "w:gz") as tar:
        tar.add(src, arcname=arcname or os.path.basename(os.path.normpath(src)))
    return dst
