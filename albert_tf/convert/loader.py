"""Copies a checkpoint's arrays into an albert_tf model, checking every name and shape."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Iterable

import keras
import numpy as np

from albert_tf.config import AlbertConfig
from albert_tf.convert.errors import (
    MissingVariablesError,
    ShapeMismatchError,
    UnsupportedCheckpointError,
    UnusedVariablesWarning,
    VocabSizeMismatchError,
    unused_message,
)
from albert_tf.convert.formats import CheckpointFormat
from albert_tf.convert.sources import TensorSource
from albert_tf.convert.weight_map import WORD_EMBEDDINGS_KEY, model_variables, split_layer_key


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """What a load did.

    Attributes:
        loaded: checkpoint variables copied into the model.
        unused: checkpoint weights the model had no place for (also warned).
        skipped: optimizer slots and counters, ignored on purpose.
        dropped: head weights left out because a backbone was asked for.
    """

    loaded: tuple[str, ...]
    unused: tuple[str, ...]
    skipped: tuple[str, ...]
    dropped: tuple[str, ...]


def check_vocab_size(fmt: CheckpointFormat, source: TensorSource, config: AlbertConfig) -> None:
    """Fails early, with the fix, when the checkpoint's vocabulary is not the config's."""
    name = fmt.name(WORD_EMBEDDINGS_KEY)
    shape = source.shapes.get(name) if name else None
    if shape and len(shape) == 2 and shape[0] != config.vocab_size:
        raise VocabSizeMismatchError(name, shape[0], config.vocab_size, source.description)


def head_names(fmt: CheckpointFormat, keys: Iterable[str]) -> list[str]:
    """The format's names of `keys` (keys it has no name for are left out)."""
    return [name for name in (fmt.name(key) for key in keys) if name is not None]


def load_weights(model: keras.Model, fmt: CheckpointFormat, source: TensorSource, config: AlbertConfig,
                 *, skip_keys: Iterable[str] = (), known_extra: Iterable[str] = (),
                 dropped: Iterable[str] = ()) -> LoadReport:
    """Assigns every weight of `model` from `source`.

    Args:
        model: a freshly built `AlbertBackbone` or `AlbertPretrainer`.
        fmt: the checkpoint's format (names and layouts).
        source: the checkpoint.
        config: the config `model` was built from.
        skip_keys: canonical keys to leave at their initial values (a new SOP head).
        known_extra: checkpoint names that are redundant copies (tied decoder),
            handled by the caller, neither loaded nor reported unused.
        dropped: checkpoint names left out on purpose (heads of a backbone-only
            conversion), reported as dropped rather than unused.

    Raises:
        VocabSizeMismatchError, MissingVariablesError, ShapeMismatchError,
        UnsupportedCheckpointError: all `ValueError`s.
    """
    check_vocab_size(fmt, source, config)
    skip_keys = set(skip_keys)
    targets = {key: variable for key, variable in model_variables(model).items() if key not in skip_keys}

    names: dict[str, str] = {}
    unnamed: list[str] = []
    for key in targets:
        name = fmt.name(key)
        if name is None:
            unnamed.append(key)
        else:
            names[key] = name
    if unnamed:
        layers = {split_layer_key(key)[:2] for key in targets if split_layer_key(key)}
        detail = ""
        if any(split_layer_key(key) for key in unnamed):
            detail = (f" The format holds one transformer layer; the config asks for {len(layers)} distinct "
                      f"layers (num_hidden_groups={config.num_hidden_groups} x "
                      f"inner_group_num={config.inner_group_num}).")
        raise UnsupportedCheckpointError(
            f"A {fmt.label} has no variables for {', '.join(unnamed[:6])}"
            f"{' ...' if len(unnamed) > 6 else ''}.{detail}"
        )

    missing = [name for name in names.values() if name not in source.shapes]
    if missing:
        raise MissingVariablesError(missing, source.description, hint=_missing_hint(missing, source))

    mismatches = []
    for key, name in names.items():
        found = tuple(source.shapes[name])
        accepted = fmt.source_shapes(key, tuple(targets[key].shape), config)
        if found not in accepted:
            mismatches.append((name, found, accepted[0]))
    if mismatches:
        raise ShapeMismatchError(mismatches, source.description)

    for key, name in names.items():
        variable = targets[key]
        array = fmt.to_ours(key, source.read(name), tuple(variable.shape))
        variable.assign(np.asarray(array, dtype=keras.backend.standardize_dtype(variable.dtype)))

    used = set(names.values()) | set(known_extra)
    dropped = set(dropped) - used
    skipped = sorted(name for name in source.shapes if name not in used and fmt.is_bookkeeping(name))
    unused = sorted(set(source.shapes) - used - dropped - set(skipped))
    if unused:
        warnings.warn(unused_message(unused, source.description), UnusedVariablesWarning, stacklevel=3)
    return LoadReport(
        loaded=tuple(names.values()), unused=tuple(unused), skipped=tuple(skipped),
        dropped=tuple(sorted(dropped & set(source.shapes))),
    )


def _missing_hint(missing: list[str], source: TensorSource) -> str:
    # A sample of what is there tells a wrong --from or a wrong config apart.
    present = sorted(set(source.shapes) - set(missing))
    if not present:
        return "The checkpoint holds no variables."
    return f"The checkpoint's names look like: {', '.join(present[:3])}"
