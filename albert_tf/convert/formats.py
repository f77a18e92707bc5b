"""How a checkpoint format spells the canonical weight keys and lays out arrays.

A format is a name table (canonical key -> variable name in the files) plus
the layout changes between its arrays and albert_tf's (transposes, reshapes).
The tables live with each format (`tf1.py`, `tfm.py`, `hf.py`).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from albert_tf.config import AlbertConfig
from albert_tf.convert.weight_map import split_layer_key

Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class NameTable:
    """Canonical key -> a format's variable name.

    Args:
        fixed: names of the keys outside transformer layers.
        layer_prefix: prefix of transformer-layer names, a format string with
            `{group}` and `{inner}`.
        layer_parts: layer part (see `weight_map.LAYER_PARTS`) -> name suffix.
        max_layers: (groups, layers per group) the format can hold; None when
            it follows the config.
    """

    fixed: Mapping[str, str]
    layer_prefix: str
    layer_parts: Mapping[str, str]
    max_layers: tuple[int, int] | None = None

    def name(self, key: str) -> str | None:
        """The format's name for `key`; None when the format has no such variable."""
        parts = split_layer_key(key)
        if parts is None:
            return self.fixed.get(key)
        group, inner, part = parts
        if self.max_layers is not None and (group >= self.max_layers[0] or inner >= self.max_layers[1]):
            return None
        suffix = self.layer_parts.get(part)
        if suffix is None:
            return None
        return self.layer_prefix.format(group=group, inner=inner) + suffix


class CheckpointFormat:
    """Base class: names from a `NameTable`, arrays laid out as albert_tf's.

    Subclasses override `source_shapes`, `to_ours` and `from_ours` where the
    format stores an array differently.
    """

    label = "checkpoint"
    table: NameTable

    def name(self, key: str) -> str | None:
        """The variable name of canonical `key` in this format, or None."""
        return self.table.name(key)

    def source_shapes(self, key: str, target_shape: Shape, config: AlbertConfig) -> tuple[Shape, ...]:
        """The shapes this format may store `key` in, the preferred one first."""
        return (tuple(target_shape),)

    def to_ours(self, key: str, array: np.ndarray, target_shape: Shape) -> np.ndarray:
        """The array in albert_tf's layout (its shape was checked by `source_shapes`)."""
        return np.reshape(array, target_shape)

    def from_ours(self, key: str, array: np.ndarray, config: AlbertConfig) -> np.ndarray:
        """The array in this format's layout (the inverse of `to_ours`)."""
        return np.reshape(array, self.source_shapes(key, array.shape, config)[0])

    def is_bookkeeping(self, name: str) -> bool:
        """True for variables that hold no model weight (optimizer slots, step counters)."""
        return False


class TransposedKernelsFormat(CheckpointFormat):
    """A format that stores some 2-D kernels as [out, in] (PyTorch `Linear`, TF1 `output_weights`)."""

    def transposed(self, key: str) -> bool:
        raise NotImplementedError

    def source_shapes(self, key, target_shape, config):
        target_shape = tuple(target_shape)
        return (target_shape[::-1],) if self.transposed(key) else (target_shape,)

    def to_ours(self, key, array, target_shape):
        return np.ascontiguousarray(array.T) if self.transposed(key) else np.reshape(array, target_shape)

    def from_ours(self, key, array, config):
        return np.ascontiguousarray(array.T) if self.transposed(key) else array
