"""The preset folder: one model, whole (config, weights, tokenizer, labels, task kind, provenance).

```
PRESET/
  config.json            format, task kind, backbone config, head arguments, labels,
                         preprocessor settings, provenance (what data, steps, dev metrics)
  backbone.weights.h5    the encoder (Keras weights file)
  head.weights.h5        the task head's variables (absent for a bare backbone)
  assets/tokenizer/spiece.model   the SentencePiece model
```

Written aside and renamed into place (`io_utils.staged_directory`), so a
reader sees a complete preset or none. This module knows files, not model
classes: the models' `from_preset` / `save_to_preset` call it, and
`albert_tf.presets.load_preset` picks the class from the task kind.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
from typing import Any, Callable

import h5py
import numpy as np

from albert_tf.config import AlbertConfig
from albert_tf.graph_tokenizer import SPM_ASSET
from albert_tf.io_utils import staged_directory

PRESET_FORMAT = "albert_tf.preset/1"
CONFIG_FILE = "config.json"
BACKBONE_WEIGHTS = "backbone.weights.h5"
HEAD_WEIGHTS = "head.weights.h5"
TOKENIZER_DIR = pathlib.Path("assets") / "tokenizer"
TOKENIZER_FILE = TOKENIZER_DIR / SPM_ASSET
KINDS = ("backbone", "pretrainer", "classifier", "span_qa", "multiple_choice", "token_classifier")
TOKENIZER_OPTIONS = ("lower_case", "strip_accents", "split_digit_comma")


@dataclasses.dataclass(frozen=True)
class PresetSpec:
    """What `config.json` says about a preset.

    Args:
        kind: one of `KINDS`.
        backbone: the `AlbertConfig` fields.
        head: the task head's constructor arguments (e.g. `num_classes`, `dropout`).
        labels: a name per output, or None.
        sequence_length: the preprocessor's packed length, or None without one.
        text_pair: whether the model takes text pairs.
        tokenizer_options: `lower_case`, `strip_accents`, `split_digit_comma`.
        provenance: free-form record of how the model was made (data, steps, metrics).
        path: the folder it was read from (None before writing).
    """

    kind: str
    backbone: dict[str, Any]
    head: dict[str, Any] = dataclasses.field(default_factory=dict)
    labels: list[str] | None = None
    sequence_length: int | None = None
    text_pair: bool = False
    tokenizer_options: dict[str, bool] = dataclasses.field(default_factory=dict)
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    path: pathlib.Path | None = None

    @property
    def config(self) -> AlbertConfig:
        return AlbertConfig.from_dict(self.backbone, source="albert_tf")

    @property
    def tokenizer_path(self) -> pathlib.Path:
        return self._require_path() / TOKENIZER_FILE

    @property
    def has_tokenizer(self) -> bool:
        return self.path is not None and (self.path / TOKENIZER_FILE).is_file()

    def require_tokenizer(self, fix: str = "re-save it with its SentencePiece model (--spm-model)") -> pathlib.Path:
        """The tokenizer file, or a one-line error naming the preset and the fix."""
        if not self.has_tokenizer:
            raise ValueError(f"Preset {self.path} has no tokenizer ({TOKENIZER_FILE} is missing); {fix}.")
        return self.tokenizer_path

    def _require_path(self) -> pathlib.Path:
        if self.path is None:
            raise ValueError("This PresetSpec was not read from a folder.")
        return self.path

    def to_json(self) -> dict[str, Any]:
        from albert_tf.version import __version__

        preprocessor = None
        if self.sequence_length is not None:
            preprocessor = {"sequence_length": self.sequence_length, "text_pair": self.text_pair,
                            **self.tokenizer_options}
        return {
            "format": PRESET_FORMAT,
            "task": self.kind,
            "backbone": self.backbone,
            "head": self.head,
            "labels": self.labels,
            "preprocessor": preprocessor,
            "provenance": self.provenance,
            "albert_tf_version": __version__,
        }


def is_preset(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder with a preset `config.json`."""
    return (pathlib.Path(path) / CONFIG_FILE).is_file()


def read_preset(path: str | os.PathLike) -> PresetSpec:
    """Reads and checks a preset folder's `config.json` (not the weights).

    Raises:
        ValueError: one line naming the file and the problem.
    """
    folder = pathlib.Path(path)
    if not folder.exists():
        raise ValueError(f"Preset folder not found: {folder}")
    if not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a preset folder (a folder with {CONFIG_FILE}, "
                         f"{BACKBONE_WEIGHTS} and {TOKENIZER_FILE}).")
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(f"{folder} is not a preset: {CONFIG_FILE} is missing (write one with save_to_preset or "
                         "any albert command's output).")
    try:
        values = json.loads(config_path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{config_path} is not valid UTF-8 JSON: {error}") from None
    if not isinstance(values, dict) or values.get("format") != PRESET_FORMAT:
        found = values.get("format") if isinstance(values, dict) else None
        hint = (" (a KerasHub preset: convert it with `albert convert --from keras-hub`)"
                if isinstance(values, dict) and "module" in values else "")
        raise ValueError(f"{config_path} has format {found!r}, not {PRESET_FORMAT!r}{hint}.")
    kind = values.get("task")
    if kind not in KINDS:
        raise ValueError(f"{config_path}: unknown task kind {kind!r}; it must be one of {list(KINDS)}.")
    try:
        AlbertConfig.from_dict(values["backbone"], source="albert_tf")
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{config_path}: the `backbone` config is invalid: {error}") from None
    preprocessor = values.get("preprocessor") or {}
    spec = PresetSpec(
        kind=kind,
        backbone=dict(values["backbone"]),
        head=dict(values.get("head") or {}),
        labels=values.get("labels"),
        sequence_length=preprocessor.get("sequence_length"),
        text_pair=bool(preprocessor.get("text_pair", False)),
        tokenizer_options={name: bool(preprocessor[name]) for name in TOKENIZER_OPTIONS if name in preprocessor},
        provenance=dict(values.get("provenance") or {}),
        path=folder,
    )
    if not (folder / BACKBONE_WEIGHTS).is_file():
        raise ValueError(f"Preset {folder} has no {BACKBONE_WEIGHTS}; the folder is incomplete.")
    if kind != "backbone" and not (folder / HEAD_WEIGHTS).is_file():
        raise ValueError(f"Preset {folder} ({kind}) has no {HEAD_WEIGHTS}; the folder is incomplete.")
    if spec.labels is not None and (not isinstance(spec.labels, list)
                                    or not all(isinstance(label, str) for label in spec.labels)):
        raise ValueError(f"{config_path}: `labels` must be a list of strings.")
    if spec.has_tokenizer:
        check_tokenizer_size(spec)
    return spec


def check_tokenizer_size(spec: PresetSpec) -> None:
    """The tokenizer's piece count must equal the backbone's vocab_size."""
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(spec.tokenizer_path.read_bytes())
    except (RuntimeError, OSError) as error:
        raise ValueError(f"{spec.tokenizer_path} is not a SentencePiece model: {error}") from None
    pieces, vocab_size = processor.get_piece_size(), spec.backbone.get("vocab_size")
    if pieces != vocab_size:
        raise ValueError(f"{spec.tokenizer_path} has {pieces} pieces but {spec.path / CONFIG_FILE} says vocab_size "
                         f"{vocab_size}; put the SentencePiece model the backbone was trained with in the preset.")


def write_preset(path: str | os.PathLike, spec: PresetSpec, write_weights: Callable[[pathlib.Path], None],
                 tokenizer_proto: bytes | None, overwrite: bool = False) -> pathlib.Path:
    """Writes a preset folder aside and renames it into place.

    Args:
        path: the preset folder.
        spec: what `config.json` records (`path` is ignored).
        write_weights: writes the weight files into the staging folder it is given.
        tokenizer_proto: the SentencePiece model bytes (None: a preset without tokenizer).
        overwrite: replace an existing preset (else an existing folder is refused).
    """
    target = pathlib.Path(path)
    if target.exists() and not overwrite:
        raise ValueError(f"{target} already exists; choose another output folder, or remove it.")
    if target.exists() and not is_preset(target):
        raise ValueError(f"{target} exists and is not a preset; refusing to replace it.")
    provenance = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  **spec.provenance}
    record = dataclasses.replace(spec, provenance=provenance).to_json()
    with staged_directory(target, replace=overwrite) as staging:
        write_weights(staging)
        if tokenizer_proto is not None:
            (staging / TOKENIZER_DIR).mkdir(parents=True)
            (staging / TOKENIZER_FILE).write_bytes(tokenizer_proto)
        (staging / CONFIG_FILE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return target


# ---------------------------------------------------------------- head weights
def head_variables(model: Any, backbone: Any) -> list[Any]:
    """The model's variables that are not the backbone's, in the model's order."""
    owned = {id(variable) for variable in backbone.weights}
    return [variable for variable in model.weights if id(variable) not in owned]


def save_head_weights(model: Any, backbone: Any, path: str | os.PathLike) -> None:
    """Writes the head's variables to an HDF5 file, one dataset per variable in order."""
    with h5py.File(path, "w") as store:
        for index, variable in enumerate(head_variables(model, backbone)):
            dataset = store.create_dataset(f"{index:04d}", data=np.asarray(variable.numpy()))
            dataset.attrs["path"] = variable.path


def load_head_weights(model: Any, backbone: Any, path: str | os.PathLike) -> None:
    """Assigns the head's variables from `save_head_weights`' file, checking count and shapes."""
    variables = head_variables(model, backbone)
    try:
        with h5py.File(path, "r") as store:
            names = sorted(store.keys())
            if len(names) != len(variables):
                raise ValueError(f"{path} holds {len(names)} head variables but the {type(model).__name__} has "
                                 f"{len(variables)}; the preset's head arguments do not match its weights.")
            for name, variable in zip(names, variables):
                value = store[name][()]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(f"{path}: {store[name].attrs.get('path', name)} has shape {value.shape} but "
                                     f"{variable.path} needs {tuple(variable.shape)}.")
                variable.assign(value)
    except OSError as error:
        raise ValueError(f"{path} is not a readable weights file ({error}); the preset is damaged.") from None


# ---------------------------------------------------------------- whole models
def tokenizer_proto_of(spm_model: str | os.PathLike | bytes | None) -> bytes | None:
    """The SentencePiece model bytes from a path or bytes (None stays None)."""
    if spm_model is None or isinstance(spm_model, (bytes, bytearray)):
        return None if spm_model is None else bytes(spm_model)
    path = pathlib.Path(spm_model)
    if not path.is_file():
        raise ValueError(f"SentencePiece model not found: {path}")
    return path.read_bytes()


def save_model_preset(path: str | os.PathLike, model: Any, backbone: Any, kind: str, *,
                      head: dict[str, Any] | None = None, labels: list[str] | None = None,
                      preprocessor: Any = None, tokenizer_proto: bytes | None = None,
                      sequence_length: int | None = None, text_pair: bool = False,
                      provenance: dict[str, Any] | None = None, overwrite: bool = False) -> pathlib.Path:
    """Writes `model` (a backbone, pretrainer or task model over `backbone`) as a preset folder.

    The tokenizer comes from `preprocessor` (an `AlbertPreprocessor`) or
    `tokenizer_proto`; its size must equal the backbone's vocab_size.
    """
    tokenizer_options: dict[str, bool] = {}
    if preprocessor is not None:
        tokenizer = preprocessor.tokenizer
        tokenizer_proto = tokenizer._require_model().serialized_model_proto
        sequence_length, text_pair = preprocessor.sequence_length, preprocessor.text_pair
        tokenizer_options = {name: getattr(tokenizer, name) for name in TOKENIZER_OPTIONS}
    elif tokenizer_proto is not None:
        tokenizer_options = {name: True for name in TOKENIZER_OPTIONS}
    if tokenizer_proto is not None:
        from albert_tf.tokenizer import AlbertTokenizer

        pieces = AlbertTokenizer.from_serialized_proto(tokenizer_proto).vocab_size
        if pieces != backbone.config.vocab_size:
            raise ValueError(f"The SentencePiece model has {pieces} pieces but the backbone's vocab_size is "
                             f"{backbone.config.vocab_size}; save the preset with the model's own vocabulary.")
        # Default 128, never past the model's positions (a preset must load again).
        sequence_length = min(sequence_length or 128, backbone.config.max_position_embeddings)
    spec = PresetSpec(kind=kind, backbone=backbone.config.to_dict(), head=dict(head or {}), labels=labels,
                      sequence_length=sequence_length if tokenizer_proto is not None else None,
                      text_pair=text_pair, tokenizer_options=tokenizer_options, provenance=dict(provenance or {}))

    def write_weights(staging: pathlib.Path) -> None:
        backbone.save_weights(staging / BACKBONE_WEIGHTS)
        if model is not backbone:
            save_head_weights(model, backbone, staging / HEAD_WEIGHTS)

    return write_preset(path, spec, write_weights, tokenizer_proto, overwrite)


def load_backbone_weights(backbone: Any, spec: PresetSpec) -> None:
    """Loads the preset's `backbone.weights.h5` into `backbone` (built from `spec.config`)."""
    path = spec._require_path() / BACKBONE_WEIGHTS
    try:
        backbone.load_weights(path)
    except (OSError, KeyError) as error:
        raise ValueError(f"{path} is not a readable weights file ({error}); the preset is damaged.") from None
    except ValueError as error:
        raise ValueError(f"{path} does not match {spec.path / CONFIG_FILE}: {error}") from None


def make_preprocessor(spec: PresetSpec, sequence_length: int | None = None, text_pair: bool | None = None) -> Any:
    """The preset's `AlbertPreprocessor` (None when the preset has no tokenizer)."""
    if not spec.has_tokenizer:
        return None
    from albert_tf.graph_tokenizer import AlbertGraphTokenizer
    from albert_tf.preprocessor import AlbertPreprocessor

    tokenizer = AlbertGraphTokenizer(spec.tokenizer_path.read_bytes(), **spec.tokenizer_options, name="tokenizer")
    length = sequence_length or spec.sequence_length or 128
    max_positions = spec.backbone.get("max_position_embeddings", length)
    if length > max_positions:
        raise ValueError(f"sequence length {length} exceeds the model's max_position_embeddings ({max_positions}).")
    return AlbertPreprocessor(tokenizer, length, spec.text_pair if text_pair is None else text_pair,
                              name="preprocessor")
