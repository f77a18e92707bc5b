"""The preset folder: one model, whole (config, weights, tokenizer, labels, task kind, provenance).

```
PRESET/
  config.json            format, task kind, backbone config, head arguments, labels,
                         preprocessor settings, provenance (what data, steps, dev metrics)
  backbone.weights.h5    the encoder (Keras weights file)
  head.weights.h5        the task head's variables (absent for a bare backbone)
  assets/tokenizer/spiece.model   the SentencePiece model
```

`config.json`'s `files` section records each other file's size and SHA-256 as written
(`{"backbone.weights.h5": {"size": ..., "sha256": ...}, ...}`): HDF5 keeps no checksums, so
flipped bytes in a weight's values would otherwise load silently. Each file is checked when
it is loaded (not by `read_preset`); presets written before the record load unchecked.

Written aside and renamed into place (`io_utils.staged_directory`), so a
reader sees a complete preset or none. This module knows files, not model
classes: the models' `from_preset` / `save_to_preset` call it, and
`albert_tf.presets.load_preset` picks the class from the task kind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import logging
import os
import pathlib
import re
from typing import Any, Callable, Iterator

import h5py
import numpy as np

from albert_tf.config import AlbertConfig
from albert_tf.graph_tokenizer import SPM_ASSET
from albert_tf.io_utils import first_line, staged_directory

PRESET_FORMAT = "albert_tf.preset/1"
CONFIG_FILE = "config.json"
BACKBONE_WEIGHTS = "backbone.weights.h5"
HEAD_WEIGHTS = "head.weights.h5"
TOKENIZER_DIR = pathlib.Path("assets") / "tokenizer"
TOKENIZER_FILE = TOKENIZER_DIR / SPM_ASSET
KINDS = ("backbone", "pretrainer", "classifier", "span_qa", "multiple_choice", "token_classifier")
TOKENIZER_OPTIONS = ("lower_case", "strip_accents", "split_digit_comma")
FILES_KEY = "files"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK_BYTES = 1 << 20

logger = logging.getLogger(__name__)


def _is_int_at_least(minimum: int) -> Callable[[Any], bool]:
    # bool is an int to Python, never a count to a head.
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_DROPOUT = (False, lambda value: _is_number(value) and 0 <= value < 1, "a number from 0 up to (not including) 1")
# What each kind's `head` section may hold: key -> (required, check, what the value must be).
HEAD_KEYS: dict[str, dict[str, tuple[bool, Callable[[Any], bool], str]]] = {
    "backbone": {},
    "pretrainer": {"sentence_loss_weight": (False, lambda value: _is_number(value) and value >= 0, "a number >= 0")},
    "classifier": {"num_classes": (True, _is_int_at_least(1), "a whole number >= 1"), "dropout": _DROPOUT},
    "span_qa": {"version_2": (False, lambda value: isinstance(value, bool), "true or false")},
    "multiple_choice": {"num_choices": (True, _is_int_at_least(2), "a whole number >= 2"), "dropout": _DROPOUT},
    "token_classifier": {"num_labels": (True, _is_int_at_least(1), "a whole number >= 1"), "dropout": _DROPOUT},
}
# The head key that counts a task head's outputs, one label name each (None: no named outputs).
OUTPUT_COUNT_KEYS: dict[str, str | None] = {"classifier": "num_classes", "span_qa": None,
                                            "multiple_choice": "num_choices", "token_classifier": "num_labels"}


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
        files: config.json's `files` record, path in the preset -> {"size", "sha256"} (None: a preset
            written before the record, or not yet written; `write_preset` makes it).
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
    files: dict[str, dict[str, Any]] | None = None

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
            self.verify(TOKENIZER_FILE)  # recorded, then deleted: say so
            raise ValueError(f"Preset {self.path} has no tokenizer ({TOKENIZER_FILE} is missing); {fix}.")
        return self.tokenizer_path

    def read_tokenizer(self, fix: str = "re-save it with its SentencePiece model (--spm-model)") -> bytes:
        """The SentencePiece model's bytes, checked against the `files` record (one-line errors name the fix)."""
        proto = self.require_tokenizer(fix).read_bytes()
        self.verify(TOKENIZER_FILE, proto)
        return proto

    def recorded(self, name: str | os.PathLike) -> dict[str, Any] | None:
        """The `files` record (size, SHA-256) of the preset file `name`, e.g. `BACKBONE_WEIGHTS` (None: none)."""
        return (self.files or {}).get(pathlib.PurePath(name).as_posix())

    def verify(self, name: str | os.PathLike, data: bytes | None = None) -> None:
        """Checks the preset file `name` (or `data`, its bytes already read) against its `files` record.

        Raises:
            ChangedFileError: one line naming the file and the fix.
        """
        record = self.recorded(name)
        if record is not None:
            verify_file(self._require_path() / name, record, data)

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
        values = {
            "format": PRESET_FORMAT,
            "task": self.kind,
            "backbone": self.backbone,
            "head": self.head,
            "labels": self.labels,
            "preprocessor": preprocessor,
            "provenance": self.provenance,
            "albert_tf_version": __version__,
        }
        if self.files is not None:
            values[FILES_KEY] = self.files
        return values


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
    if "task" not in values:
        raise ValueError(f"{config_path} has no \"task\" key; add the kind of model the preset holds, one of "
                         f"{list(KINDS)}.")
    kind = values["task"]
    if kind not in KINDS:
        raise ValueError(f"{config_path}: unknown task kind {kind!r}; it must be one of {list(KINDS)}.")
    try:
        AlbertConfig.from_dict(values["backbone"], source="albert_tf")
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{config_path}: the `backbone` config is invalid: {error}") from None
    preprocessor = values.get("preprocessor") or {}
    if not isinstance(preprocessor, dict):
        raise ValueError(f"{config_path}: `preprocessor` must be a JSON object (sequence_length, text_pair, ...).")
    head = values.get("head") or {}
    if not isinstance(head, dict):
        raise ValueError(f"{config_path}: `head` must be a JSON object of the {kind} head's arguments.")
    spec = PresetSpec(
        kind=kind,
        backbone=dict(values["backbone"]),
        head=dict(head),
        labels=values.get("labels"),
        sequence_length=preprocessor.get("sequence_length"),
        text_pair=bool(preprocessor.get("text_pair", False)),
        tokenizer_options={name: bool(preprocessor[name]) for name in TOKENIZER_OPTIONS if name in preprocessor},
        provenance=dict(values.get("provenance") or {}),
        path=folder,
        files=check_files_record(config_path, values.get(FILES_KEY)),
    )
    if not (folder / BACKBONE_WEIGHTS).is_file():
        raise ValueError(f"Preset {folder} has no {BACKBONE_WEIGHTS}; the folder is incomplete.")
    if kind != "backbone" and not (folder / HEAD_WEIGHTS).is_file():
        raise ValueError(f"Preset {folder} ({kind}) has no {HEAD_WEIGHTS}; the folder is incomplete.")
    if spec.labels is not None and (not isinstance(spec.labels, list)
                                    or not all(isinstance(label, str) for label in spec.labels)):
        raise ValueError(f"{config_path}: `labels` must be a list of strings.")
    check_head(spec)
    if spec.sequence_length is not None:
        check_sequence_length(spec)
    if spec.has_tokenizer:
        check_tokenizer_size(spec)
    return spec


def check_head(spec: PresetSpec) -> None:
    """The `head` section must hold the arguments of the kind's head (required keys, right types), and
    `labels` one name per head output: a preset whose task, head and labels disagree cannot load.

    Raises:
        ValueError: one line naming config.json, the key and the fix.
    """
    config_path = spec.path / CONFIG_FILE if spec.path is not None else pathlib.Path(CONFIG_FILE)
    kind, head, schema = spec.kind, spec.head, HEAD_KEYS[spec.kind]
    takes = f"it takes {', '.join(schema)}" if schema else "it takes no head arguments"
    for key in head:
        if key not in schema:
            raise ValueError(f"{config_path}: head key {key!r} is not an argument of a {kind} head ({takes}); the "
                             f"preset's \"task\" and \"head\" disagree: fix \"task\" or remove the key.")
    for key, (required, valid, what) in schema.items():
        if key not in head:
            if required:
                raise ValueError(f"{config_path}: the {kind} preset's \"head\" has no {key!r} key; add it "
                                 f"({what}, as the model was trained with).")
        elif not valid(head[key]):
            raise ValueError(f"{config_path}: head.{key} is {head[key]!r} but must be {what}; correct it in "
                             f"{CONFIG_FILE}.")
    if kind not in OUTPUT_COUNT_KEYS or spec.labels is None:
        return
    count_key = OUTPUT_COUNT_KEYS[kind]
    outputs = head[count_key] if count_key is not None else None
    if kind == "classifier" and outputs == 1:
        outputs = None  # one output is a regression score, not a class
    if outputs is None:
        what = "a regression head (num_classes 1)" if count_key is not None else f"a {kind} head"
        raise ValueError(f"{config_path}: `labels` has {len(spec.labels)} label names but {what} has no named "
                         f"outputs; the preset's task, head and labels disagree: remove \"labels\" or fix "
                         f"\"task\" / \"head\".")
    if len(spec.labels) != outputs:
        raise ValueError(f"{config_path}: `labels` has {len(spec.labels)} label names but head.{count_key} is "
                         f"{outputs}, so the {kind} head has {outputs} outputs; the preset's head and labels "
                         f"disagree: give one label per output or fix head.{count_key}.")


def check_sequence_length(spec: PresetSpec) -> None:
    """The preprocessor's `sequence_length` must be a whole number from 1 to the backbone's positions."""
    config_path = spec.path / CONFIG_FILE if spec.path is not None else pathlib.Path(CONFIG_FILE)
    length, positions = spec.sequence_length, spec.config.max_position_embeddings
    if not _is_int_at_least(1)(length) or length > positions:
        raise ValueError(f"{config_path}: preprocessor.sequence_length is {length!r} but must be a whole number "
                         f"from 1 to the backbone's max_position_embeddings ({positions}); correct it in "
                         f"{CONFIG_FILE}.")


def check_tokenizer_size(spec: PresetSpec) -> None:
    """The tokenizer's piece count must equal the backbone's vocab_size."""
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor()
    proto = spec.tokenizer_path.read_bytes()
    try:
        processor.LoadFromSerializedProto(proto)
    except (RuntimeError, OSError) as error:
        spec.verify(TOKENIZER_FILE, proto)  # hashed only on failure: a changed file says so
        raise ValueError(f"{spec.tokenizer_path} is not a SentencePiece model: {error}") from None
    pieces, vocab_size = processor.get_piece_size(), spec.backbone.get("vocab_size")
    if vocab_size is None:
        raise ValueError(f"{spec.path / CONFIG_FILE}: the `backbone` section has no vocab_size key; add "
                         f"\"vocab_size\": {pieces} (the pieces of {TOKENIZER_FILE}, which the backbone was "
                         "trained with).")
    if pieces != vocab_size:
        spec.verify(TOKENIZER_FILE, proto)
        raise ValueError(f"{spec.tokenizer_path} has {pieces} pieces but {spec.path / CONFIG_FILE} says vocab_size "
                         f"{vocab_size}; put the SentencePiece model the backbone was trained with in the preset.")


def check_files_record(config_path: pathlib.Path, files: Any) -> dict[str, dict[str, Any]] | None:
    """config.json's `files` section, checked: path in the preset -> {"size": bytes, "sha256": 64 hex digits}.

    Returns:
        The section, or None when config.json has none (a preset written before it: files are not checked).

    Raises:
        ValueError: one line naming config.json and the fix.
    """
    if files is None:
        return None
    fix = "save or export the preset again, or remove the \"files\" section to load it unchecked"
    if not isinstance(files, dict):
        raise ValueError(f"{config_path}: `files` must be a JSON object of path -> {{\"size\", \"sha256\"}}, not "
                         f"{type(files).__name__}; {fix}.")
    for name, record in files.items():
        parts = pathlib.PurePosixPath(name).parts
        if not parts or parts[0] == "/" or ".." in parts:
            raise ValueError(f"{config_path}: files key {name!r} is not a path inside the preset; {fix}.")
        if not (isinstance(record, dict) and _is_int_at_least(0)(record.get("size"))
                and isinstance(record.get("sha256"), str) and _SHA256.fullmatch(record["sha256"])):
            raise ValueError(f"{config_path}: files[{name!r}] must be {{\"size\": bytes, \"sha256\": 64 lowercase "
                             f"hex digits}}, not {record!r}; {fix}.")
    return files


def file_record(path: pathlib.Path) -> dict[str, Any]:
    """`{"size": bytes, "sha256": hex digest}` of the file at `path`, read in 1 MiB chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


class ChangedFileError(ValueError):
    """A preset file whose size or SHA-256 differs from config.json's `files` record, or that is missing."""


def verify_file(path: pathlib.Path, record: dict[str, Any] | None, data: bytes | None = None) -> None:
    """Checks the preset file `path` (or `data`, its bytes already read) against its `files` record: size
    (a stat), then SHA-256. No record (a preset written before it, or a file it does not list): no check.

    Raises:
        ChangedFileError: one line naming the file and the fix.
    """
    if record is None:
        return
    if data is None and not path.is_file():
        raise _changed(path, f"it is missing, though {CONFIG_FILE} records it")
    size = len(data) if data is not None else path.stat().st_size
    if size != record["size"]:
        raise _changed(path, f"{size} bytes, but {CONFIG_FILE} records {record['size']}")
    digest = hashlib.sha256(data).hexdigest() if data is not None else file_record(path)["sha256"]
    if digest != record["sha256"]:
        raise _changed(path, f"its SHA-256 differs from the one {CONFIG_FILE} records")
    logger.debug("%s matches its recorded size and SHA-256", path)


def _changed(path: pathlib.Path, detail: str) -> ChangedFileError:
    return ChangedFileError(f"{path} has changed or was damaged since the preset was written ({detail}); save or "
                            "export the preset again, or restore the file.")


def write_preset(path: str | os.PathLike, spec: PresetSpec, write_weights: Callable[[pathlib.Path], None],
                 tokenizer_proto: bytes | None, overwrite: bool = False) -> pathlib.Path:
    """Writes a preset folder aside and renames it into place.

    Args:
        path: the preset folder.
        spec: what `config.json` records (`path` and `files` are ignored: the files written are recorded).
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
        record[FILES_KEY] = {file.relative_to(staging).as_posix(): file_record(file)
                             for file in sorted(staging.rglob("*")) if file.is_file()}
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


def load_head_weights(model: Any, backbone: Any, spec: PresetSpec) -> None:
    """Assigns the head's variables from the preset's `head.weights.h5` (`save_head_weights`' file), checking
    the file against the `files` record, then the variables' count and shapes."""
    path = spec._require_path() / HEAD_WEIGHTS
    check_weights_file(path, spec.recorded(HEAD_WEIGHTS))
    variables = head_variables(model, backbone)
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


class UnreadableWeightsError(ValueError):
    """A preset's weights file that h5py cannot read (flipped bytes, truncated, no read permission)."""


def _not_readable(path: str | os.PathLike) -> UnreadableWeightsError:
    return UnreadableWeightsError(f"{path} is not readable (permission denied); give your user read "
                                  "permission on it (chmod u+r) or run as its owner.")


@contextlib.contextmanager
def reading_weights(path: str | os.PathLike) -> Iterator[None]:
    """Turns any failure inside the block, which must only read the weights file `path` with h5py, into one
    `UnreadableWeightsError` naming it: not readable for a `PermissionError`, else damaged."""
    try:
        yield
    except PermissionError:
        raise _not_readable(path) from None
    except (OSError, RuntimeError, KeyError, ValueError) as error:
        # HDF5 reports bad bytes as OSError or RuntimeError, and h5py some as KeyError or ValueError.
        # str() of a KeyError is its argument's repr, quotes and all.
        text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
        detail = first_line(text) or type(error).__name__
        raise UnreadableWeightsError(f"{path} is damaged ({detail}); export the preset again or restore it."
                                     ) from None


def _read_all(name: str, item: h5py.Group | h5py.Dataset) -> None:
    dict(item.attrs)
    if isinstance(item, h5py.Dataset):
        item[()]


def check_weights_file(path: pathlib.Path, record: dict[str, Any] | None) -> None:
    """Checks the weights file `path` before it is loaded: its size and SHA-256 against `record` (when the
    preset has one) and that h5py opens it; without a record, h5py also reads every attribute and dataset.
    Bad bytes fail here, so an error in the real load that follows is a mismatch between the file and the
    model, not damage.

    Raises:
        ChangedFileError: the file differs from its record.
        UnreadableWeightsError: the file is not readable, or h5py cannot read it (damaged).
    """
    try:
        verify_file(path, record)
    except PermissionError:
        raise _not_readable(path) from None
    with reading_weights(path):
        with h5py.File(path, "r") as store:
            if record is None:  # bytes that match their record are those written: no damage to find
                dict(store.attrs)
                store.visititems(_read_all)  # a callback that returns None visits every object


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
    check_weights_file(path, spec.recorded(BACKBONE_WEIGHTS))
    try:
        backbone.load_weights(path)
    except ValueError as error:
        raise ValueError(f"{path} does not match {spec.path / CONFIG_FILE}: {error}") from None


def make_preprocessor(spec: PresetSpec, sequence_length: int | None = None, text_pair: bool | None = None) -> Any:
    """The preset's `AlbertPreprocessor` (None when the preset has no tokenizer)."""
    if not spec.has_tokenizer:
        spec.verify(TOKENIZER_FILE)  # recorded, then deleted: say so
        return None
    from albert_tf.graph_tokenizer import AlbertGraphTokenizer
    from albert_tf.preprocessor import AlbertPreprocessor

    tokenizer = AlbertGraphTokenizer(spec.read_tokenizer(), **spec.tokenizer_options, name="tokenizer")
    max_positions = spec.config.max_position_embeddings
    # Default 128, never past the model's positions (as `save_model_preset` records it).
    length = sequence_length or spec.sequence_length or min(128, max_positions)
    if length > max_positions:
        raise ValueError(f"sequence length {length} exceeds the model's max_position_embeddings ({max_positions}).")
    return AlbertPreprocessor(tokenizer, length, spec.text_pair if text_pair is None else text_pair,
                              name="preprocessor")
