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


def _check_member(member: tarfile.TarInfo, root: str, archive: str) -> None:
    name = member.name
    if os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
        raise StorageError(f"refusing to extract {archive}: member {name!r} has an absolute path or '..'",
                           uri=archive)
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
            members = tar.getmembers()
            for member in members:
                _check_member(member, root, archive)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(root, members=members, filter="data")
            else:  # pragma: no cover - Python without PEP 706 filters; members are already checked
                tar.extractall(root, members=members)
    except tarfile.TarError as exc:
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
