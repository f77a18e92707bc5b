"""File writing that never leaves a half-written output behind, and reading that names the bad file."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import pathlib
import shutil
import signal
import sys
import tempfile
from typing import Iterator

logger = logging.getLogger(__name__)

# Prefix of every temporary file or folder written next to an output.
_STAGING_PREFIX = ".tmp-"


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes `text` to `path` through a temporary file and an atomic rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file and an atomic rename."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a folder", path)
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = _temporary_beside(path, directory, lambda: tempfile.mkstemp(prefix=_STAGING_PREFIX,
                                                                                       dir=directory))
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
    _temporary_beside(target, parent, lambda: None)
    if target.exists() and not replace:
        raise FileExistsError(f"{target} already exists; choose another output folder or remove it")
    remove_stale_staging(target)
    staging = pathlib.Path(_temporary_beside(target, parent, lambda: tempfile.mkdtemp(
        prefix=f"{_STAGING_PREFIX}{target.name}-", dir=parent)))
    try:
        yield staging
        publish_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish_directory(staging: str | os.PathLike, target: str | os.PathLike) -> None:
    """Renames the finished folder `staging` to `target`. An existing `target` is
    first moved aside (into a `.tmp-` folder) and deleted only once the new one is in place."""
    staging, target = pathlib.Path(staging), pathlib.Path(target)
    if target.exists():
        previous = pathlib.Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{target.name}-old-", dir=target.parent))
        os.replace(target, previous / target.name)
        os.replace(staging, target)
        shutil.rmtree(previous, ignore_errors=True)
    else:
        os.replace(staging, target)


def remove_stale_staging(target: str | os.PathLike) -> None:
    """Deletes `.tmp-<name>-*` folders that a killed `staged_directory(target)` left."""
    target = pathlib.Path(target)
    if not target.parent.is_dir():
        return
    for leftover in target.parent.glob(f"{_STAGING_PREFIX}{target.name}-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def remove_staging_leftovers(directory: str | os.PathLike) -> list[str]:
    """Deletes every `.tmp-*` file or folder in `directory` (what killed writers left).

    Call it only on a folder that one run owns (a run's output or checkpoint
    folder), before that run writes there. Returns the removed names.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for leftover in directory.glob(f"{_STAGING_PREFIX}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover.name)
    if removed:
        logger.info("removed %d leftover(s) of a killed run in %s: %s", len(removed), directory, ", ".join(removed))
    return removed


@contextlib.contextmanager
def staged_file(target: str | os.PathLike, *, fault_event: str | None = None) -> Iterator[pathlib.Path]:
    """Yields a temporary path beside `target`; publishes it at `target` with one rename.

    The temporary name is `.tmp-XXXX-<target name>`, so it keeps the target's
    suffixes (Keras insists on `.keras` / `.weights.h5`). The writer fills it
    inside the block; on success it is flushed to disk and renamed over
    `target`, so `target` is always either the old complete file or the new
    complete one. On an exception the temporary file is deleted; a killed
    run's is deleted by `remove_staging_leftovers` of the folder.

    Args:
        target: the file to publish.
        fault_event: a name for `fault_point` (testing), checked after the
            file is written and before it is published.
    """
    target = pathlib.Path(target)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", os.fspath(target))
    handle, name = _temporary_beside(target, target.parent, lambda: tempfile.mkstemp(
        prefix=_STAGING_PREFIX, suffix=f"-{target.name}", dir=target.parent))
    os.close(handle)
    temporary = pathlib.Path(name)
    temporary.unlink()  # writers such as h5py and zipfile want to create the file themselves
    try:
        yield temporary
        if not temporary.exists():
            raise RuntimeError(f"nothing was written to {temporary} for {target}")
        _fsync(temporary)
        if fault_event:
            fault_point(fault_event)
        os.replace(temporary, target)
    except BaseException:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        raise


def _temporary_beside(target: str | os.PathLike, directory: str | os.PathLike, make):
    """Creates `target`'s folder and returns `make()` (a temporary file there). The OS errors name
    `target`, the path the user gave, never the temporary name or a bare parent."""
    target = os.fspath(target)
    for parent in pathlib.Path(os.path.abspath(target)).parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{parent} is a file, not a folder", target)
            break
    try:
        os.makedirs(directory, exist_ok=True)
        return make()
    except PermissionError:
        raise PermissionError(errno.EACCES, f"cannot create files in {directory}", target) from None
    except OSError as error:
        if error.errno in (errno.EROFS, errno.ENOTDIR, errno.ENOSPC):
            raise type(error)(error.errno, error.strerror, target) from None
        raise


def check_writable_folder(path: str | os.PathLike, setting: str) -> None:
    """Fails early, naming `setting` and `path`, when no file can be created where `path` is to be written.

    Tries a temporary file in the nearest existing folder of `path` (permission bits alone say nothing for
    root or on a read-only mount) and removes it.
    """
    path = pathlib.Path(os.path.abspath(path))
    folder = next((parent for parent in path.parents if parent.exists()), pathlib.Path("/"))
    if not folder.is_dir():
        raise InputFileError(f"{setting} {path}: {folder} is a file, not a folder; choose a path outside it.")
    try:
        handle, name = tempfile.mkstemp(prefix=_STAGING_PREFIX, dir=folder)
    except OSError as error:
        raise InputFileError(f"{setting} {path}: cannot write in {folder} ({error.strerror or error}); "
                             "choose a writable folder.") from None
    os.close(handle)
    os.unlink(name)


def _fsync(path: pathlib.Path) -> None:
    if path.is_file():
        with open(path, "rb") as stream:
            os.fsync(stream.fileno())


# --- Fault injection (tests only) -------------------------------------------

#: `ALBERT_TF_FAULT_AFTER=<event>` or `<event>@<n>`: the process kills itself
#: with SIGKILL when it reaches the named point (the n-th time, default 1st).
#: Used by the fault-injection tests to stop a run at an exact moment, such as
#: a checkpoint written but not yet published. Unset in normal use.
FAULT_ENVIRONMENT_VARIABLE = "ALBERT_TF_FAULT_AFTER"
_fault_counts: dict[str, int] = {}


def fault_point(event: str) -> None:
    """Kills this process with SIGKILL if `ALBERT_TF_FAULT_AFTER` names `event` (testing only)."""
    wanted = os.environ.get(FAULT_ENVIRONMENT_VARIABLE)
    if not wanted:
        return
    name, _, count = wanted.partition("@")
    if name != event:
        return
    _fault_counts[event] = _fault_counts.get(event, 0) + 1
    if _fault_counts[event] >= int(count or 1):
        logger.warning("%s=%s: killing process %d", FAULT_ENVIRONMENT_VARIABLE, wanted, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)


# --- Reading inputs with errors that name the file --------------------------


class InputFileError(ValueError):
    """An input file that is missing, a folder, or cannot be read as what it should be.

    A `ValueError`, so the `albert` command reports it as one line with exit code 2.
    """


def corrupt_data_errors() -> tuple[type[BaseException], ...]:
    """Exception types that readers of archives, HDF5, protobuf, safetensors and TFRecords raise on bad bytes."""
    import struct
    import zipfile
    import zlib

    errors: list[type[BaseException]] = [OSError, EOFError, zipfile.BadZipFile, zlib.error, struct.error,
                                         UnicodeDecodeError]
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None:
        errors.append(tensorflow.errors.OpError)
    for module_name, attribute in (("safetensors", "SafetensorError"), ("google.protobuf.message", "DecodeError")):
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, attribute):
            errors.append(getattr(module, attribute))
    return tuple(errors)


def check_input_file(path: str | os.PathLike, what: str) -> pathlib.Path:
    """`path` as a `Path` if it is an existing regular file; else an `InputFileError` saying what it is."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise InputFileError(f"{path} is a directory, not a file ({what}); give a file inside it.")
    if not path.exists():
        raise InputFileError(f"{what[:1].upper()}{what[1:]} not found: {path}")
    return path


@contextlib.contextmanager
def reading(path: str | os.PathLike, what: str, fix: str = "") -> Iterator[None]:
    """Turns low-level read errors inside the block into one `InputFileError` naming `path`.

    Args:
        path: the file read inside the block.
        what: what the file should be ("Keras model", "TFRecord shard", ...).
        fix: a sentence telling what to do, appended to the message.
    """
    try:
        yield
    except InputFileError:
        raise
    except corrupt_data_errors() as error:
        raise InputFileError(describe_read_error(path, what, error) + (f" {fix}" if fix else "")) from error


def describe_read_error(path: str | os.PathLike, what: str, error: BaseException) -> str:
    """One sentence for an error raised while reading `path` as a `what`."""
    path = os.fspath(path)
    if isinstance(error, IsADirectoryError) or (isinstance(error, OSError) and os.path.isdir(path)):
        return f"{path} is a directory, not a {what} file."
    if isinstance(error, FileNotFoundError) or not os.path.exists(path):
        return f"{what} not found: {path}"
    if isinstance(error, PermissionError):
        return f"{path}: permission denied reading the {what}."
    detail = first_line(getattr(error, "message", None) or str(error)) or type(error).__name__
    return f"{path} is not a readable {what} (truncated or corrupt: {detail})."


def first_line(text: str) -> str:
    """The first non-empty line of `text`, stripped."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def load_keras_file(path: str | os.PathLike, what: str = "Keras model", compile: bool = True):
    """`keras.saving.load_model(path, compile=compile)` with one-line errors for a missing, folder, or corrupt
    `.keras` file (`compile=False` skips the training optimizer a model was saved with)."""
    import zipfile

    import keras

    path = check_input_file(path, what)
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise InputFileError(f"{path} is not a readable {what} (not a complete .keras zip archive: truncated or "
                             "corrupt). Save it again.")
    with reading(path, what, "Save it again."):
        try:
            return keras.saving.load_model(path, compile=compile)
        except ValueError as error:
            # Damaged bytes inside an intact archive surface as Keras' "objects could not be loaded".
            raise InputFileError(f"{path} is not a readable {what} ({first_line(str(error))}). Save it again."
                                 ) from error


@contextlib.contextmanager
def exclusive_run(directory: str | os.PathLike, command: str) -> Iterator[None]:
    """Holds an exclusive lock on `directory` (a `.lock` file) for the block.

    A second process working on the same folder is refused with a one-line
    error instead of mixing its files with the first's. The kernel drops the
    lock when the holder dies, so a killed run never leaves a stale lock.
    """
    import fcntl

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputFileError(
                f"{directory} is in use by another `{command}` process; wait for it to end or use another "
                "output folder."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def check_output_path(path: str | os.PathLike, setting: str, *, folder: bool) -> pathlib.Path:
    """Fails early, naming `setting`, when `path` cannot be created as a file (or folder).

    Refused: a path below a regular file, a file where a folder is wanted
    (`folder=True`) and a folder where a file is wanted.
    """
    path = pathlib.Path(path)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputFileError(f"{setting} {path}: {parent} is a file, not a folder; choose a path outside it.")
            break
    if folder and path.exists() and not path.is_dir():
        raise InputFileError(f"{setting} {path} is a file; give a folder.")
    if not folder and path.is_dir():
        raise InputFileError(f"{setting} {path} is a folder; give a file path.")
    return path
