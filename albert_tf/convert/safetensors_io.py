"""safetensors reading and writing through `safetensors.numpy`: no PyTorch needed.

safetensors is a flat header plus raw little-endian buffers, so NumPy reads
it directly, without pickle (no code runs on load) and lazily (a tensor is
read only when asked for).
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import Mapping

import numpy as np

from albert_tf.convert.sources import Shape, TensorSource
from albert_tf.io_utils import reading

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"


class SafetensorsSource(TensorSource):
    """One `.safetensors` file, or the shards listed in a `*.safetensors.index.json`."""

    def __init__(self, path: str | os.PathLike):
        from safetensors import safe_open

        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No safetensors file at {path}")
        self.description = f"safetensors {path}"
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as handle:
                weight_map = json.load(handle)["weight_map"]
            directory = os.path.dirname(path)
            files = sorted({os.path.join(directory, shard) for shard in weight_map.values()})
        else:
            files = [path]
        self._file_of: dict[str, str] = {}
        self._shapes: dict[str, Shape] = {}
        self._dtypes: dict[str, str] = {}
        for file in files:
            if not os.path.exists(file):
                raise FileNotFoundError(f"safetensors shard {file} listed in {path} is missing")
            with reading(file, "safetensors file", "Download or convert it again."), \
                    safe_open(file, framework="numpy") as handle:
                for name in handle.keys():
                    tensor_slice = handle.get_slice(name)
                    self._file_of[name] = file
                    self._shapes[name] = tuple(tensor_slice.get_shape())
                    self._dtypes[name] = tensor_slice.get_dtype()

    @property
    def shapes(self) -> Mapping[str, Shape]:
        return self._shapes

    def read(self, name: str) -> np.ndarray:
        from safetensors import safe_open

        if self._dtypes[name] == "BF16":
            return _read_bfloat16(self._file_of[name], name)  # NumPy has no bfloat16
        with reading(self._file_of[name], "safetensors file", "Download or convert it again."), \
                safe_open(self._file_of[name], framework="numpy") as handle:
            return handle.get_tensor(name)


def _read_bfloat16(path: str, name: str) -> np.ndarray:
    # bfloat16 is the upper half of a float32: widen the raw 16-bit words.
    with open(path, "rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        entry = json.loads(handle.read(header_size))[name]
        begin, end = entry["data_offsets"]
        handle.seek(8 + header_size + begin)
        words = np.frombuffer(handle.read(end - begin), dtype="<u2")
    return (words.astype(np.uint32) << 16).view(np.float32).reshape(entry["shape"])


def write_safetensors(path: str | os.PathLike, tensors: Mapping[str, np.ndarray],
                      metadata: Mapping[str, str] | None = None) -> None:
    """Writes `tensors` to `path` atomically (temporary file in the same directory, then rename)."""
    from safetensors.numpy import save_file

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=directory)
    os.close(handle)
    try:
        save_file({name: np.ascontiguousarray(array) for name, array in tensors.items()}, temporary,
                  metadata=dict(metadata or {}))
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
