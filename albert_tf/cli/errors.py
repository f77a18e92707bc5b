"""One place that turns the errors a user can cause into one line for the `albert` command.

Bad settings (`ValueError`), missing, unwritable or damaged files (`OSError`,
corrupt zip / HDF5 / safetensors / protobuf / TFRecord data), memory
exhaustion and an incomplete albert_tf install (a missing `albert_tf.*`
module) each end as `albert CMD: error: <one line>` with exit code 2.
Anything else is a bug and keeps its traceback. `ALBERT_TF_TRACEBACK=1`
re-raises everything, for debugging.
"""

from __future__ import annotations

import errno
import os
import pathlib
import re
import sys

from albert_tf.io_utils import first_line

TRACEBACK_ENVIRONMENT_VARIABLE = "ALBERT_TF_TRACEBACK"
_MEMORY_HINT = ("the model, batch or sequence length does not fit in this machine's memory; use a smaller config, "
                "--batch-size or sequence length")


def describe_user_error(error: BaseException) -> str | None:
    """The one-line message for an error the user can fix; None for a bug (keep the traceback)."""
    if isinstance(error, UnicodeDecodeError):
        return (f"input is not valid UTF-8 ({error.reason} at byte {error.start}: "
                f"{error.object[max(0, error.start - 10):error.start + 10]!r}); convert the file to UTF-8")
    if isinstance(error, ValueError):
        return _one_line(str(error)) or type(error).__name__
    if isinstance(error, ModuleNotFoundError) and (error.name or "").startswith("albert_tf."):
        # albert_tf's own part missing: an incomplete install, fixed by (re)installing it.
        return _one_line(str(error)) or type(error).__name__
    if isinstance(error, MemoryError):
        return f"out of memory: {_MEMORY_HINT}"
    if isinstance(error, OSError):
        return describe_os_error(error)
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None and isinstance(error, tensorflow.errors.OpError):
        return _describe_tensorflow_error(error, tensorflow.errors)
    if _is_corrupt_data_error(error):
        return f"an input file is truncated or corrupt ({type(error).__name__}: {first_line(str(error))})"
    return None


def describe_os_error(error: OSError) -> str:
    """`OSError` as one line naming its file, with what to do."""
    filename = error.filename
    reason = error.strerror or first_line(str(error)) or type(error).__name__
    if not filename:
        text = first_line(str(error))
        if "unable to" in text.lower() and ("file" in text.lower()):  # h5py names no file
            return f"cannot read an HDF5 file, it is truncated or corrupt ({text})"
        return text or type(error).__name__
    path = pathlib.Path(os.fsdecode(filename))
    if isinstance(error, (NotADirectoryError, FileNotFoundError, FileExistsError)):
        blocker = _regular_file_above(path)
        if blocker is not None:
            return f"{path}: {blocker} is a file, not a folder; choose an output path outside it"
    if isinstance(error, NotADirectoryError):
        return f"{path} is not a folder ({reason})"
    if isinstance(error, IsADirectoryError):
        return f"{path} is a folder; give a file path"
    if isinstance(error, FileNotFoundError):
        return f"{path} not found"
    if isinstance(error, FileExistsError):
        return f"{path} already exists; choose another path or remove it"
    if isinstance(error, PermissionError):
        if not path.exists():
            folder = next((parent for parent in path.parents if parent.exists()), path.parent)
            return f"{path}: permission denied, cannot create files in {folder}; choose a writable folder"
        return f"{path}: permission denied"
    if error.errno == errno.EROFS:
        return f"{path}: the file system is read-only; choose a writable folder"
    if error.errno == errno.ENOSPC:
        return f"{path}: no space left on the device; free some space and rerun (the run resumes)"
    return f"{path}: {reason}"


def _regular_file_above(path: pathlib.Path) -> pathlib.Path | None:
    """The nearest ancestor of `path` that exists as a regular file (so nothing can be created below it)."""
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent if parent.is_file() and parent != path else None
    return None


def _describe_tensorflow_error(error, errors) -> str | None:
    message = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", first_line(error.message))
    message = re.sub(r"\s*\[Op:\w+\].*$", "", message)
    if isinstance(error, errors.ResourceExhaustedError):
        return f"out of memory ({message}): {_MEMORY_HINT}"
    if isinstance(error, errors.DataLossError):
        return f"an input file is truncated or corrupt ({message})"
    if isinstance(error, (errors.NotFoundError, errors.PermissionDeniedError, errors.AlreadyExistsError)):
        return message
    return None


def _is_corrupt_data_error(error: BaseException) -> bool:
    import zipfile
    import zlib

    if isinstance(error, (zipfile.BadZipFile, EOFError, zlib.error)):
        return True
    return type(error).__name__ in ("SafetensorError", "DecodeError", "HeaderTooLarge")


def _one_line(text: str) -> str:
    """Messages spanning lines are joined, so the error stays on one line."""
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())
