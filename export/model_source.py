"""What an export takes from the model itself: its SentencePiece model, sequence length and label names.

A preset (or a `.keras` task model with a preprocessor) carries all three, so
`albert export` needs no `--spm-model` or `--labels` for it; an explicit
value still wins (and is checked against the model). A backbone or
pretrainer preset loads as a bare `AlbertBackbone`, which carries no
preprocessor: `preset_settings` reads its tokenizer and length from the
preset folder instead.
"""

from __future__ import annotations

import os
import pathlib
from typing import Mapping, Sequence

import keras

from albert_tf.export.heads import MODEL_KINDS
from albert_tf.preset_format import TOKENIZER_OPTIONS, is_preset, read_preset

# The model kind each preset kind exports as (a pretrainer exports its backbone).
EXPORTED_KIND = {"pretrainer": "backbone"}
_MAKERS = {"classifier": "albert finetune or distill on a classification task",
           "span_qa": "albert finetune --task squad1/squad2", "backbone": "any preset"}


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


def tokenizer_options_of(model: keras.Model, options: Mapping[str, bool | None] | None = None) -> dict[str, bool]:
    """The text normalization every exported tokenizer must share with the model's own: each of
    `TOKENIZER_OPTIONS` from `options` where given (not None), else from the tokenizer the model carries
    (a preset's or `.keras` task model's preprocessor), else ALBERT's default (True)."""
    carried = getattr(getattr(model, "preprocessor", None), "tokenizer", None)
    given = dict(options or {})
    return {name: bool(given[name]) if given.get(name) is not None else bool(getattr(carried, name, True))
            for name in TOKENIZER_OPTIONS}


def preset_settings(path: str | os.PathLike, kind: str | None, spm_model: str | os.PathLike | bytes | None,
                    seq_length: int | None
                    ) -> tuple[str | os.PathLike | bytes | None, int | None, dict[str, bool] | None]:
    """Checks `kind` against a preset folder's kind; returns the SentencePiece model, length and tokenizer
    options to export with.

    For a path that is not a preset, `spm_model` and `seq_length` unchanged and no options. A
    preset that exports as a bare backbone (kind backbone or pretrainer) gives
    its own tokenizer, sequence length and tokenizer options (`lower_case`, ...)
    where they are None; task presets carry theirs in the loaded model's preprocessor.

    Raises:
        ValueError: `kind` (`--task`) is not what the preset exports as, or the
            preset's kind cannot be exported.
    """
    if not is_preset(path):
        return spm_model, seq_length, None
    spec = read_preset(path)
    exported = EXPORTED_KIND.get(spec.kind, spec.kind)
    if kind is not None and kind != exported:
        fix = (f"Use --task {exported} (kind={exported!r}) or leave it out." if exported in MODEL_KINDS else
               f"A {spec.kind} preset cannot be exported (export takes {', '.join(MODEL_KINDS)} models).")
        raise ValueError(f"--task {kind} (kind={kind!r}): {path} is a {spec.kind} preset (it exports as {exported}); "
                         f"--task {kind} needs a {kind} preset (from {_MAKERS.get(kind, 'albert finetune')}). {fix}")
    if exported == "backbone":
        if spm_model is None:
            spm_model = spec.read_tokenizer("pass --spm-model path/to/spiece.model (the vocabulary the model was "
                                            "trained with)")
        if seq_length is None:
            seq_length = spec.sequence_length or min(128, spec.config.max_position_embeddings)
        return spm_model, seq_length, dict(spec.tokenizer_options)
    return spm_model, seq_length, None
