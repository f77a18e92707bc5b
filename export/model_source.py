"""What an export takes from the model itself: its SentencePiece model, sequence length and label names.

A preset (or a `.keras` task model with a preprocessor) carries all three, so
`albert export` needs no `--spm-model` or `--labels` for it; an explicit
value still wins (and is checked against the model).
"""

from __future__ import annotations

import os
import pathlib
from typing import Sequence

import keras


def check_spm_model(spm_model: str | os.PathLike | bytes | None) -> str | bytes:
    """The SentencePiece model as a path string (or its bytes), or a ValueError that says how to fix it."""
    if spm_model is None:
        raise ValueError("No SentencePiece model given: pass --spm-model path/to/spiece.model "
                         "(the vocabulary the model was trained with), or export a preset, which carries it.")
    if isinstance(spm_model, (bytes, bytearray)):
        return bytes(spm_model)
    path = pathlib.Path(spm_model)
    if not path.is_file():
        raise ValueError(f"SentencePiece model {path} not found: pass --spm-model with the .model file the "
                         "model was trained with (e.g. spiece.model of the released ALBERT).")
    return str(path)


def spm_model_of(model: keras.Model, spm_model: str | os.PathLike | bytes | None = None) -> bytes:
    """The SentencePiece model bytes: `spm_model` when given, else the model's own preprocessor's."""
    if spm_model is not None:
        source = check_spm_model(spm_model)
        return source if isinstance(source, bytes) else pathlib.Path(source).read_bytes()
    preprocessor = getattr(model, "preprocessor", None)
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if tokenizer is None or tokenizer.python_tokenizer is None:
        raise ValueError(f"This {type(model).__name__} carries no tokenizer: export a preset folder (from albert "
                         "finetune, pretrain or convert), or pass --spm-model path/to/spiece.model.")
    return tokenizer.python_tokenizer.serialized_model_proto


def sequence_length_of(model: keras.Model, seq_length: int | None, default: int = 128) -> int:
    """`seq_length` when given, else the model's preprocessor's, else `default`."""
    if seq_length is not None:
        return int(seq_length)
    preprocessor = getattr(model, "preprocessor", None)
    return int(preprocessor.sequence_length) if preprocessor is not None else default


def labels_of(model: keras.Model, labels: Sequence[str] | None) -> list[str] | None:
    """`labels` when given, else the label names the model carries (None when it has none)."""
    if labels is not None:
        return [str(label) for label in labels]
    carried = getattr(model, "labels", None)
    return None if carried is None else [str(label) for label in carried]
