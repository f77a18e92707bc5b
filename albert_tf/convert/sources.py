"""Read-only views of checkpoint files: variable names, shapes, and arrays on demand."""

from __future__ import annotations

import abc
import os
import re
from typing import Callable, Mapping

import numpy as np

from albert_tf.io_utils import reading

Shape = tuple[int, ...]

_TF_SUFFIX = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")


class TensorSource(abc.ABC):
    """Named arrays of one checkpoint; arrays are read only when asked for."""

    #: Names the checkpoint in messages, e.g. "TF1 checkpoint /path/model.ckpt-1000".
    description: str

    @property
    @abc.abstractmethod
    def shapes(self) -> Mapping[str, Shape]:
        """Variable name -> shape, for every variable in the checkpoint."""

    @abc.abstractmethod
    def read(self, name: str) -> np.ndarray:
        """The array of variable `name`."""


class DictSource(TensorSource):
    """Arrays already in memory (tests, and formats that load everything at once)."""

    def __init__(self, arrays: Mapping[str, np.ndarray], description: str):
        self._arrays = dict(arrays)
        self.description = description
        self._shapes = {name: tuple(np.shape(array)) for name, array in self._arrays.items()}

    @property
    def shapes(self) -> Mapping[str, Shape]:
        return self._shapes

    def read(self, name: str) -> np.ndarray:
        return np.asarray(self._arrays[name])


def resolve_tf_checkpoint(path: str | os.PathLike) -> str:
    """The checkpoint prefix for a prefix, a file of the checkpoint, or a directory.

    A directory resolves to its latest checkpoint (the `checkpoint` state file,
    else `variables/variables` of a TF-Hub module, else the only `*.index`
    file in it).

    Raises:
        FileNotFoundError: no TensorFlow checkpoint is there.
    """
    import tensorflow as tf

    path = os.fspath(path)
    if tf.io.gfile.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is not None:
            return latest
        # A TF-Hub module or SavedModel directory keeps its weights in variables/.
        hub_variables = os.path.join(path, "variables", "variables")
        if tf.io.gfile.exists(hub_variables + ".index"):
            return hub_variables
        indexes = sorted(tf.io.gfile.glob(os.path.join(path, "*.index")))
        if len(indexes) == 1:
            return indexes[0][: -len(".index")]
        if indexes:
            raise FileNotFoundError(
                f"{path} holds {len(indexes)} TensorFlow checkpoints and no `checkpoint` file naming the "
                f"latest; pass one prefix, e.g. {indexes[-1][: -len('.index')]}"
            )
        raise FileNotFoundError(f"No TensorFlow checkpoint in directory {path} (no *.index file)")
    prefix = _TF_SUFFIX.sub("", path)
    if not tf.io.gfile.exists(prefix + ".index"):
        raise FileNotFoundError(
            f"No TensorFlow checkpoint at {path}: expected the file {prefix}.index "
            "(pass the prefix, e.g. model.ckpt-125000, or the directory)"
        )
    return prefix


class TFCheckpointSource(TensorSource):
    """A TensorFlow checkpoint (TF1 name-based or TF2 object-based) read with `tf.train.load_checkpoint`.

    Args:
        path: prefix, checkpoint file or directory (see `resolve_tf_checkpoint`).
        kind: how the checkpoint is described in messages.
        rename: checkpoint key -> variable name the format's table uses, or
            None to hide the key; applied to every key. Receives the reader.
    """

    def __init__(self, path: str | os.PathLike, kind: str,
                 rename: Callable[[object], Mapping[str, str]] | None = None):
        import tensorflow as tf

        self.prefix = resolve_tf_checkpoint(path)
        self.description = f"{kind} {self.prefix}"
        with reading(self.prefix, f"{kind} checkpoint", "Download or copy the checkpoint again."):
            self._reader = tf.train.load_checkpoint(self.prefix)
            key_shapes = self._reader.get_variable_to_shape_map()
        keys_by_name = rename(self._reader) if rename is not None else {key: key for key in key_shapes}
        self._keys = dict(keys_by_name)
        self._shapes = {name: tuple(key_shapes[key]) for name, key in self._keys.items()}

    @property
    def shapes(self) -> Mapping[str, Shape]:
        return self._shapes

    def key(self, name: str) -> str:
        """The checkpoint key behind variable `name`."""
        return self._keys[name]

    def read(self, name: str) -> np.ndarray:
        with reading(self.prefix, "checkpoint", "Download or copy the checkpoint again."):
            return np.asarray(self._reader.get_tensor(self._keys[name]))
