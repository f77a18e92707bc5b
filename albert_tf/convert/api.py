"""Checkpoint conversion: other implementations' checkpoints, albert_tf presets and `.keras` files in;
albert_tf presets, Hugging Face folders or KerasHub presets out."""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Literal

import keras

from albert_tf.config import AlbertConfig
from albert_tf.convert.errors import ConversionError, MissingVariablesError, UnsupportedCheckpointError
from albert_tf.convert.formats import CheckpointFormat
from albert_tf.convert.hf import (
    CLASSIFIER_NAMES, HFFormat, check_tied_copies, export_huggingface, hf_config_path, open_hf_checkpoint,
    read_hf_config,
)
from albert_tf.convert.loader import LoadReport, check_vocab_size, head_names, load_weights
from albert_tf.convert.sources import TensorSource
from albert_tf.convert.tf1 import TF1Format, open_tf1_checkpoint
from albert_tf.convert.tfm import TFMFormat, open_tfm_checkpoint
from albert_tf.convert.weight_map import MLM_KEYS, SOP_KEYS, backbone_of

SourceFormat = Literal["tf1", "tfm", "hf", "keras-hub", "preset", "keras"]
TargetFormat = Literal["preset", "hf", "keras-hub"]
ModelKind = Literal["auto", "backbone", "pretrainer"]

SOURCE_FORMATS = ("tf1", "tfm", "hf", "keras-hub", "preset", "keras")
TARGET_FORMATS = ("preset", "hf", "keras-hub")
# `--to keras` of earlier releases: the albert_tf target, now a preset folder.
TARGET_ALIASES = {"keras": "preset"}
MODEL_KINDS = ("auto", "backbone", "pretrainer")
# Config files looked for next to a TF checkpoint when no config is given.
_SIBLING_CONFIGS = ("albert_config.json", "config.json")
# SentencePiece models looked for next to a checkpoint when --spm-model is not given
# (google-research's tarballs ship 30k-clean.model; Hugging Face folders spiece.model).
_SIBLING_SPM_MODELS = ("spiece.model", "30k-clean.model")
# The preprocessor's length when the source records none (capped at the model's positions).
DEFAULT_SEQUENCE_LENGTH = 128


@dataclasses.dataclass(frozen=True)
class ConversionResult:
    """A converted model and what the conversion did.

    Attributes:
        model: an `AlbertBackbone`, `AlbertPretrainer` or task model holding the source's weights.
        config: the config the model was built from.
        kind: "backbone", "pretrainer", or a task model's preset kind ("classifier", ...).
        source: the checkpoint, as described in messages.
        report: loaded, unused, skipped and dropped checkpoint variables
            (None when the source was an albert_tf model).
        outputs: the files written (empty for `load_checkpoint`).
        tokenizer_proto: the SentencePiece model that goes with the model (None: unknown).
        sequence_length: the preprocessor's packed length, when the source records one.
    """

    model: keras.Model
    config: AlbertConfig
    kind: str
    source: str
    report: LoadReport | None = None
    outputs: tuple[str, ...] = ()
    tokenizer_proto: bytes | None = None
    sequence_length: int | None = None


def open_checkpoint(source_format: str, checkpoint: str | os.PathLike) -> tuple[CheckpointFormat, TensorSource]:
    """The format and a lazy reader of a tf1, tfm or hf checkpoint.

    Raises:
        FileNotFoundError: nothing at `checkpoint`.
        ValueError: an unknown `source_format`.
    """
    if source_format == "tf1":
        return TF1Format(), open_tf1_checkpoint(checkpoint)
    if source_format == "tfm":
        return TFMFormat(), open_tfm_checkpoint(checkpoint)
    if source_format == "hf":
        source = open_hf_checkpoint(checkpoint)
        return HFFormat.for_source(source), source
    raise ConversionError(f"`source_format` must be one of 'tf1', 'tfm', 'hf'. Received: {source_format!r}")


def resolve_config(config: AlbertConfig | str | os.PathLike | None, source_format: str,
                   checkpoint: str | os.PathLike) -> AlbertConfig:
    """The config to build the model from.

    Args:
        config: an `AlbertConfig`, a preset name, or a JSON file in any dialect
            that `AlbertConfig.from_json_file` reads. When None: a Hugging Face
            directory's config.json, or an albert_config.json / config.json
            next to a TF checkpoint.
    """
    if isinstance(config, AlbertConfig):
        return config
    if config is not None:
        from albert_tf.presets import PRESETS

        name = os.fspath(config)
        preset = name.removeprefix("albert_")
        if preset in PRESETS and not os.path.exists(name):
            return AlbertConfig.from_preset(preset)
        return AlbertConfig.from_json_file(name)
    if source_format == "hf":
        return read_hf_config(checkpoint)
    checkpoint = os.fspath(checkpoint)
    directory = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(checkpoint)
    for name in _SIBLING_CONFIGS:
        candidate = os.path.join(directory, name)
        if os.path.exists(candidate):
            return AlbertConfig.from_json_file(candidate)
    raise ConversionError(
        f"A {source_format} checkpoint carries no config: pass one (--config albert_config.json, "
        f"or a preset name), or put {' or '.join(_SIBLING_CONFIGS)} next to the checkpoint"
    )


def _build(config: AlbertConfig, pretrainer: bool) -> keras.Model:
    from albert_tf.backbone import AlbertBackbone
    from albert_tf.pretrainer import AlbertPretrainer

    # Checkpoints hold float32 weights; a mixed policy is a training-time choice.
    backbone = AlbertBackbone(config, dtype="float32")
    return AlbertPretrainer(backbone) if pretrainer else backbone


def load_checkpoint(source_format: str, checkpoint: str | os.PathLike,
                    config: AlbertConfig | str | os.PathLike | None = None, *,
                    model: ModelKind = "auto", new_sop_head: bool = False) -> ConversionResult:
    """Builds an albert_tf model holding a checkpoint's weights.

    Args:
        source_format: "tf1" (google-research/albert or TF-Hub TF1 module),
            "tfm" (TF Model Garden AlbertEncoder / BertPretrainerV2) or "hf"
            (Hugging Face model directory).
        checkpoint: checkpoint prefix, file or directory.
        config: see `resolve_config`.
        model: "auto" builds an `AlbertPretrainer` when the checkpoint has the
            MLM and SOP heads, else an `AlbertBackbone`; "backbone" leaves the
            heads out; "pretrainer" requires them.
        new_sop_head: with an MLM head but no SOP head (Model Garden, Hugging
            Face `AlbertForMaskedLM`), build a pretrainer whose SOP head is
            newly initialized instead of dropping the MLM head.

    Raises:
        FileNotFoundError: nothing at `checkpoint`.
        ValueError (`ConversionError` and subclasses): missing variables,
            shapes or vocabulary size that disagree with the config, or a
            structure the format cannot hold. Unused variables are warned
            about (`UnusedVariablesWarning`).

    Example:
    >>> result = load_checkpoint("tf1", "albert_base/model.ckpt-best",  # doctest: +SKIP
    ...                          "albert_base/albert_config.json")
    >>> result.kind  # doctest: +SKIP
    'pretrainer'
    """
    if model not in MODEL_KINDS:
        raise ConversionError(f"`model` must be one of {MODEL_KINDS}. Received: model={model!r}")
    fmt, source = open_checkpoint(source_format, checkpoint)
    config = resolve_config(config, source_format, checkpoint)
    check_vocab_size(fmt, source, config)

    mlm_names, sop_names = head_names(fmt, MLM_KEYS), head_names(fmt, SOP_KEYS)
    has_mlm = bool(mlm_names) and all(name in source.shapes for name in mlm_names)
    has_sop = bool(sop_names) and all(name in source.shapes for name in sop_names)
    head_present = [name for name in mlm_names + sop_names if name in source.shapes]

    if model == "pretrainer":
        if not has_mlm:
            raise MissingVariablesError([n for n in mlm_names if n not in source.shapes], source.description,
                                        hint="A pretrainer needs the MLM head; convert with model='backbone'")
        if not has_sop and not new_sop_head:
            if not sop_names:
                raise UnsupportedCheckpointError(
                    f"A {fmt.label} has no SOP head that maps onto AlbertPretrainer's; pass "
                    "new_sop_head=True (--new-sop-head) to start a new one, or convert the backbone"
                )
            raise MissingVariablesError([n for n in sop_names if n not in source.shapes], source.description,
                                        hint="Pass new_sop_head=True (--new-sop-head) to start a new SOP head")
    pretrainer = model == "pretrainer" or (model == "auto" and has_mlm and (has_sop or new_sop_head))
    if model == "auto" and has_mlm and not pretrainer:
        warnings.warn(
            f"{source.description} has an MLM head but no SOP head that AlbertPretrainer can use: converting "
            "the backbone alone. Pass new_sop_head=True (--new-sop-head) to keep the MLM head.",
            UserWarning, stacklevel=2,
        )

    known_extra = check_tied_copies(fmt, source) if isinstance(fmt, HFFormat) else []
    if isinstance(fmt, HFFormat) and all(name in source.shapes for name in CLASSIFIER_NAMES):
        known_extra += list(CLASSIFIER_NAMES)  # AlbertForSequenceClassification's head: see `read_hf_classifier`
    built = _build(config, pretrainer)
    report = load_weights(
        built, fmt, source, config,
        skip_keys=SOP_KEYS if pretrainer and not has_sop else (),
        known_extra=known_extra,
        dropped=() if pretrainer else head_present,
    )
    return ConversionResult(model=built, config=config, kind="pretrainer" if pretrainer else "backbone",
                            source=source.description, report=report)


def load_keras_model(path: str | os.PathLike) -> keras.Model:
    """An albert_tf model (`AlbertBackbone`, `AlbertPretrainer` or task model) saved as `.keras`.

    Raises:
        ValueError: no file at `path`, a truncated or corrupt file (as `albert export` reports it), or a file
            holding another kind of model.
    """
    import albert_tf.backbone  # noqa: F401  (registers the classes for deserialization)
    import albert_tf.pretrainer  # noqa: F401
    import albert_tf.tasks  # noqa: F401
    from albert_tf.io_utils import load_keras_file
    from albert_tf.tasks.task_model import TaskModel

    loaded = load_keras_file(path, ".keras model")
    if not isinstance(loaded, TaskModel):
        backbone_of(loaded)  # raises for models that are not ALBERT backbones or pretrainers
    return loaded


def read_hf_classifier(result: ConversionResult, checkpoint: str | os.PathLike) -> ConversionResult:
    """Wraps the backbone of an `AlbertForSequenceClassification` checkpoint into an `AlbertClassifier` holding its
    head, with the label names of its config's `id2label` (the result unchanged for other checkpoints)."""
    import json

    import numpy as np

    from albert_tf.tasks import AlbertClassifier

    fmt, source = open_checkpoint("hf", checkpoint)
    if not all(name in source.shapes for name in CLASSIFIER_NAMES) or result.kind != "backbone":
        return result
    config_path = hf_config_path(checkpoint)
    with open(config_path, encoding="utf-8") as handle:
        values = json.load(handle)
    kernel = np.asarray(source.read(CLASSIFIER_NAMES[0]), np.float32).T  # [out, in] -> [in, out]
    num_classes = kernel.shape[1]
    id2label = values.get("id2label") or {}
    labels = [str(id2label.get(str(index), index)) for index in range(num_classes)] if num_classes > 1 else None
    if labels is not None and labels == [f"LABEL_{index}" for index in range(num_classes)]:
        labels = None  # transformers' placeholder names, not real ones
    model = AlbertClassifier(result.model, num_classes, dropout=float(values.get("classifier_dropout_prob") or 0.1),
                             labels=labels)
    dense = model.get_layer("classifier")
    if tuple(dense.kernel.shape) != kernel.shape:
        raise ConversionError(f"{CLASSIFIER_NAMES[0]} in {source.description} has shape {list(kernel.shape[::-1])}; "
                              f"the backbone needs [*, {dense.kernel.shape[0]}]")
    dense.kernel.assign(kernel)
    dense.bias.assign(np.asarray(source.read(CLASSIFIER_NAMES[1]), np.float32))
    return dataclasses.replace(result, model=model, kind="classifier")


def load_source(source_format: str, path: str | os.PathLike, config: AlbertConfig | str | os.PathLike | None = None,
                *, model: ModelKind = "auto", new_sop_head: bool = False,
                spm_model: str | os.PathLike | bytes | None = None) -> ConversionResult:
    """Any convertible source as an albert_tf model, with its SentencePiece model when one is known.

    Args:
        source_format: "tf1", "tfm", "hf" (see `load_checkpoint`; an
            `AlbertForSequenceClassification` folder gives an `AlbertClassifier`),
            "keras-hub" (a KerasHub ALBERT preset folder: a backbone or a text
            classifier), "preset" (an albert_tf preset folder) or "keras" (an
            albert_tf `.keras` file, or a preset folder).
        path: the input.
        config: see `resolve_config` (TF and Hugging Face checkpoints only).
        model: "backbone" strips any heads; see `load_checkpoint`.
        new_sop_head: see `load_checkpoint`.
        spm_model: the SentencePiece model (path or bytes); default: the one the
            source carries (preset, KerasHub vocabulary.spm, a task model's
            preprocessor, spiece.model / 30k-clean.model next to a checkpoint).
    """
    from albert_tf.preset_format import is_preset, tokenizer_proto_of

    if source_format not in SOURCE_FORMATS:
        raise ConversionError(f"`source_format` must be one of {SOURCE_FORMATS}. Received: {source_format!r}")
    if model not in MODEL_KINDS:
        raise ConversionError(f"`model` must be one of {MODEL_KINDS}. Received: model={model!r}")
    if source_format == "keras" and os.path.isdir(path) and is_preset(path):
        source_format = "preset"
    if source_format == "preset":
        result = _from_preset(path)
    elif source_format == "keras":
        result = _from_keras(path)
    elif source_format == "keras-hub":
        from albert_tf.convert.keras_hub import read_keras_hub_preset

        read = read_keras_hub_preset(path)
        result = ConversionResult(model=read.model, config=_backbone(read.model).config, kind=read.kind,
                                  source=f"KerasHub preset {os.fspath(path)}", report=read.report,
                                  tokenizer_proto=read.tokenizer_proto, sequence_length=read.sequence_length)
    else:
        result = load_checkpoint(source_format, path, config, model="backbone" if model == "backbone" else model,
                                 new_sop_head=new_sop_head)
        if source_format == "hf":
            result = read_hf_classifier(result, path)
        result = dataclasses.replace(result, tokenizer_proto=_sibling_spm_model(path))
    if spm_model is not None:
        result = dataclasses.replace(result, tokenizer_proto=tokenizer_proto_of(spm_model))
    elif result.tokenizer_proto is None:
        result = dataclasses.replace(result, tokenizer_proto=_preprocessor_proto(result.model))
    return _select(result, model)


def _backbone(model: keras.Model):
    from albert_tf.tasks.task_model import TaskModel

    return model.backbone if isinstance(model, TaskModel) else backbone_of(model)


def _preprocessor_proto(model: keras.Model) -> bytes | None:
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None or preprocessor.tokenizer.python_tokenizer is None:
        return None
    return preprocessor.tokenizer.python_tokenizer.serialized_model_proto


def _sibling_spm_model(checkpoint: str | os.PathLike) -> bytes | None:
    path = os.fspath(checkpoint)
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    for name in _SIBLING_SPM_MODELS:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            with open(candidate, "rb") as handle:
                return handle.read()
    return None


def _select(result: ConversionResult, model: ModelKind) -> ConversionResult:
    """Applies `model`: "backbone" strips heads; "pretrainer" requires a pretrainer."""
    from albert_tf.pretrainer import AlbertPretrainer

    if model == "pretrainer" and not isinstance(result.model, AlbertPretrainer):
        raise ConversionError(f"{result.source} holds a {result.kind}; it has no MLM/SOP heads to convert as a "
                              "pretrainer")
    if model == "backbone" and result.kind != "backbone":
        return dataclasses.replace(result, model=_backbone(result.model), kind="backbone")
    return result


def _from_preset(path: str | os.PathLike) -> ConversionResult:
    from albert_tf.preset_format import read_preset
    from albert_tf.presets import load_preset

    spec = read_preset(path)
    loaded = load_preset(path)
    proto = spec.read_tokenizer() if spec.has_tokenizer else None
    return ConversionResult(model=loaded, config=spec.config, kind=spec.kind, source=f"albert_tf preset {path}",
                            tokenizer_proto=proto, sequence_length=spec.sequence_length)


def _from_keras(path: str | os.PathLike) -> ConversionResult:
    from albert_tf.pretrainer import AlbertPretrainer
    from albert_tf.tasks.task_model import TaskModel

    loaded = load_keras_model(path)
    if isinstance(loaded, TaskModel):
        kind = loaded.preset_kind
    else:
        kind = "pretrainer" if isinstance(loaded, AlbertPretrainer) else "backbone"
    preprocessor = getattr(loaded, "preprocessor", None)
    return ConversionResult(model=loaded, config=_backbone(loaded).config, kind=kind,
                            source=f".keras model {os.fspath(path)}",
                            sequence_length=preprocessor.sequence_length if preprocessor is not None else None)


def save_preset(result: ConversionResult, output: str | os.PathLike, overwrite: bool = False) -> list[str]:
    """Writes a conversion's model as an albert_tf preset folder (with its tokenizer when one is known).

    Returns:
        The files written.
    """
    import pathlib

    from albert_tf.tasks.task_model import TaskModel

    output = pathlib.Path(output)
    if output.suffix == ".keras":
        raise ConversionError(f"An albert_tf model is written as a preset folder, not a .keras file: give a folder "
                              f"name (e.g. --output {output.with_suffix('')}) instead of {output}")
    provenance = {"converted_from": result.source}
    model = result.model
    sequence_length = result.sequence_length or min(DEFAULT_SEQUENCE_LENGTH, result.config.max_position_embeddings)
    if isinstance(model, TaskModel):
        if model.preprocessor is None and result.tokenizer_proto is not None:
            from albert_tf.preprocessor import AlbertPreprocessor

            model.preprocessor = AlbertPreprocessor.from_spm_model(result.tokenizer_proto, sequence_length)
        model.save_to_preset(output, provenance=provenance, overwrite=overwrite)
    else:
        model.save_to_preset(output, spm_model=result.tokenizer_proto, sequence_length=sequence_length,
                             provenance=provenance, overwrite=overwrite)
    if result.tokenizer_proto is None:
        warnings.warn(f"{result.source} came without a SentencePiece model, so the preset {output} has no tokenizer; "
                      "convert again with --spm-model to make it take text", UserWarning, stacklevel=2)
    return sorted(str(path) for path in output.rglob("*") if path.is_file())


def convert_checkpoint(source_format: str, checkpoint: str | os.PathLike, output: str | os.PathLike,
                       config: AlbertConfig | str | os.PathLike | None = None, *,
                       to: str = "preset", model: ModelKind = "auto", new_sop_head: bool = False,
                       spm_model: str | os.PathLike | bytes | None = None, labels: list[str] | None = None,
                       overwrite: bool = False) -> ConversionResult:
    """Converts a model and writes the result.

    Args:
        source_format, checkpoint, config, model, new_sop_head, spm_model: see `load_source`.
        output: the folder to write.
        to: "preset" (an albert_tf preset folder; "keras" means the same),
            "hf" (config.json, model.safetensors and the tokenizer files for
            transformers) or "keras-hub" (a KerasHub preset folder).
        labels: label names for a classifier (one per class), replacing the source's.
        overwrite: replace an existing preset folder (`to="preset"`).

    Returns:
        The `ConversionResult`, with `outputs` listing the files written.
    """
    to = TARGET_ALIASES.get(to, to)
    if to not in TARGET_FORMATS:
        raise ConversionError(f"`to` must be one of {TARGET_FORMATS}. Received: to={to!r}")
    result = load_source(source_format, checkpoint, config, model=model, new_sop_head=new_sop_head,
                         spm_model=spm_model)
    if labels is not None:
        result = _relabel(result, labels)
    if to == "preset":
        outputs = save_preset(result, output, overwrite=overwrite)
    elif to == "hf":
        outputs = export_huggingface(result.model, output, tokenizer_proto=result.tokenizer_proto)
    else:
        from albert_tf.convert.keras_hub import export_keras_hub

        outputs = export_keras_hub(result.model, output, tokenizer_proto=result.tokenizer_proto,
                                   sequence_length=result.sequence_length)
    return dataclasses.replace(result, outputs=tuple(outputs))


def _relabel(result: ConversionResult, labels: list[str]) -> ConversionResult:
    from albert_tf.tasks import AlbertClassifier

    model = result.model
    if not isinstance(model, AlbertClassifier):
        raise ConversionError(f"--labels names a classifier's classes, but {result.source} holds a {result.kind}")
    if len(labels) != model.num_classes or len(set(labels)) != len(labels):
        raise ConversionError(f"--labels gives {len(labels)} names but the classifier has {model.num_classes} "
                              "classes; give one distinct name per class, in class order")
    model.labels = [str(label) for label in labels]
    return result
