"""File writing that never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import tempfile
from typing import Iterator

# Prefix of every temporary file or folder written next to an output.
_STAGING_PREFIX = ".tmp-"


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes `text` to `path` through a temporary file and an atomic rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file and an atomic rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        # mkstemp creates owner-only files; give the result the usual umask permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def staged_directory(target: str | os.PathLike, *, replace: bool = False) -> Iterator[pathlib.Path]:
    """Builds a directory aside and publishes it at `target` with one rename.

    Yields an empty sibling folder `.tmp-<name>-XXXX`; when the block ends
    without an exception it is renamed to `target`, so readers see either no
    `target` or a complete one. On an exception (or a kill) `target` is
    untouched; a killed run's staging folder is removed by the next call for
    the same target (see `remove_stale_staging`).

    Args:
        target: the folder to publish.
        replace: publish over an existing `target` (it is moved aside first and
            deleted only after the new one is in place). Without it an existing
            `target` is refused with `FileExistsError` before any work is done.
    """
    target = pathlib.Path(target)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not replace:
        raise FileExistsError(f"{target} already exists; choose another output folder or remove it")
    remove_stale_staging(target)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{target.name}-", dir=parent))
    try:
        yield staging
        if target.exists():
            previous = pathlib.Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{target.name}-old-", dir=parent))
            os.replace(target, previous / target.name)
            os.replace(staging, target)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def remove_stale_staging(target: str | os.PathLike) -> None:
    """Deletes `.tmp-<name>-*` folders that a killed `staged_directory(target)` left."""
    target = pathlib.Path(target)
    if not target.parent.is_dir():
        return
    for leftover in target.parent.glob(f"{_STAGING_PREFIX}{target.name}-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
