"""Checkpoint conversion: other implementations' checkpoints in, `.keras` or Hugging Face out."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
from typing import Literal

import keras

from albert_tf.config import AlbertConfig
from albert_tf.convert.errors import ConversionError, MissingVariablesError, UnsupportedCheckpointError
from albert_tf.convert.formats import CheckpointFormat
from albert_tf.convert.hf import HFFormat, check_tied_copies, export_huggingface, open_hf_checkpoint, read_hf_config
from albert_tf.convert.loader import LoadReport, check_vocab_size, head_names, load_weights
from albert_tf.convert.sources import TensorSource
from albert_tf.convert.tf1 import TF1Format, open_tf1_checkpoint
from albert_tf.convert.tfm import TFMFormat, open_tfm_checkpoint
from albert_tf.convert.weight_map import MLM_KEYS, SOP_KEYS, backbone_of

SourceFormat = Literal["tf1", "tfm", "hf", "keras"]
TargetFormat = Literal["keras", "hf"]
ModelKind = Literal["auto", "backbone", "pretrainer"]

SOURCE_FORMATS = ("tf1", "tfm", "hf", "keras")
TARGET_FORMATS = ("keras", "hf")
MODEL_KINDS = ("auto", "backbone", "pretrainer")
# Config files looked for next to a TF checkpoint when no config is given.
_SIBLING_CONFIGS = ("albert_config.json", "config.json")


@dataclasses.dataclass(frozen=True)
class ConversionResult:
    """A converted model and what the conversion did.

    Attributes:
        model: an `AlbertBackbone` or `AlbertPretrainer` holding the checkpoint's weights.
        config: the config the model was built from.
        kind: "backbone" or "pretrainer".
        source: the checkpoint, as described in messages.
        report: loaded, unused, skipped and dropped checkpoint variables
            (None when the source was a `.keras` model).
        outputs: the files written (empty for `load_checkpoint`).
    """

    model: keras.Model
    config: AlbertConfig
    kind: str
    source: str
    report: LoadReport | None = None
    outputs: tuple[str, ...] = ()


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
    """An `AlbertBackbone` or `AlbertPretrainer` saved as `.keras`.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file holds another kind of model.
    """
    import albert_tf.backbone  # noqa: F401  (registers the classes for deserialization)
    import albert_tf.pretrainer  # noqa: F401

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No .keras model at {path}")
    loaded = keras.saving.load_model(path)
    backbone_of(loaded)  # raises for models that are not ALBERT backbones or pretrainers
    return loaded


def save_keras_model(model: keras.Model, path: str | os.PathLike) -> str:
    """Saves `model` to a `.keras` file atomically (temporary file in the same directory, then rename)."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ConversionError(f"A Keras model file name must end in .keras. Received: {path}")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".keras", dir=directory)
    os.close(handle)
    try:
        model.save(temporary, overwrite=True)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def convert_checkpoint(source_format: str, checkpoint: str | os.PathLike, output: str | os.PathLike,
                       config: AlbertConfig | str | os.PathLike | None = None, *,
                       to: TargetFormat = "keras", model: ModelKind = "auto",
                       new_sop_head: bool = False) -> ConversionResult:
    """Converts a checkpoint and writes the result.

    Args:
        source_format: "tf1", "tfm", "hf" (see `load_checkpoint`) or "keras"
            (an albert_tf `.keras` model, e.g. to export it to Hugging Face).
        checkpoint: the input path.
        output: a `.keras` file (`to="keras"`) or a directory (`to="hf"`,
            receives config.json and model.safetensors).
        config: see `resolve_config`; unused for "keras".
        to: "keras" or "hf".
        model, new_sop_head: see `load_checkpoint`; model="backbone" also
            strips the heads off a `.keras` pretrainer.

    Returns:
        The `ConversionResult`, with `outputs` listing the files written.
    """
    if to not in TARGET_FORMATS:
        raise ConversionError(f"`to` must be one of {TARGET_FORMATS}. Received: to={to!r}")
    if source_format not in SOURCE_FORMATS:
        raise ConversionError(f"`source_format` must be one of {SOURCE_FORMATS}. Received: {source_format!r}")
    output = os.fspath(output)
    if to == "keras" and not output.endswith(".keras"):
        raise ConversionError(f"--to keras writes one .keras file; the output name must end in .keras: {output}")
    if source_format == "keras":
        result = _from_keras(checkpoint, model)
    else:
        result = load_checkpoint(source_format, checkpoint, config, model=model, new_sop_head=new_sop_head)
    if to == "keras":
        outputs = (save_keras_model(result.model, output),)
    else:
        outputs = tuple(export_huggingface(result.model, output))
    return dataclasses.replace(result, outputs=outputs)


def _from_keras(path: str | os.PathLike, model: ModelKind) -> ConversionResult:
    from albert_tf.pretrainer import AlbertPretrainer

    loaded = load_keras_model(path)
    is_pretrainer = isinstance(loaded, AlbertPretrainer)
    if model == "pretrainer" and not is_pretrainer:
        raise ConversionError(f"{path} holds a backbone; it has no MLM/SOP heads to export as a pretrainer")
    if model == "backbone":
        loaded, is_pretrainer = backbone_of(loaded), False
    return ConversionResult(model=loaded, config=backbone_of(loaded).config,
                            kind="pretrainer" if is_pretrainer else "backbone", source=f".keras model {path}")
