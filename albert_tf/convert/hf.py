"""Hugging Face `transformers` ALBERT checkpoints: reading a model directory and writing one.

Names are those of `AlbertForPreTraining` (`albert.` prefix on the backbone;
`AlbertModel` saves the backbone without it). PyTorch `Linear` weights are
[out, in], so every dense kernel is transposed. The MLM decoder is tied to
the word embeddings (and its bias to `predictions.bias`); files that carry
those copies are checked, not loaded twice.

`model.safetensors` (or sharded safetensors) is read with
`safetensors.numpy`, without PyTorch. `pytorch_model.bin` needs PyTorch and
is loaded with `torch.load(weights_only=True)`, which refuses pickled code.
"""

from __future__ import annotations

import json
import os
import warnings

import keras
import numpy as np

from albert_tf.config import AlbertConfig
from albert_tf.convert.errors import ConversionError
from albert_tf.convert.formats import NameTable, TransposedKernelsFormat
from albert_tf.convert.safetensors_io import (
    SAFETENSORS_FILE,
    SAFETENSORS_INDEX_FILE,
    SafetensorsSource,
    write_safetensors,
)
from albert_tf.convert.sources import DictSource, TensorSource
from albert_tf.convert.weight_map import backbone_of, model_variables

BACKBONE_PREFIX = "albert."
CONFIG_FILE = "config.json"
PYTORCH_FILE = "pytorch_model.bin"
PYTORCH_INDEX_FILE = "pytorch_model.bin.index.json"
# Tied copies: (decoder name, canonical-side name it must equal without the prefix).
TIED_COPIES = {
    "predictions.decoder.weight": "embeddings.word_embeddings.weight",
    "predictions.decoder.bias": "predictions.bias",
}

_LAYER_PARTS = {
    "attention/query/kernel": "attention.query.weight",
    "attention/query/bias": "attention.query.bias",
    "attention/key/kernel": "attention.key.weight",
    "attention/key/bias": "attention.key.bias",
    "attention/value/kernel": "attention.value.weight",
    "attention/value/bias": "attention.value.bias",
    "attention/output/kernel": "attention.dense.weight",
    "attention/output/bias": "attention.dense.bias",
    "attention_layer_norm/gamma": "attention.LayerNorm.weight",
    "attention_layer_norm/beta": "attention.LayerNorm.bias",
    "feed_forward/intermediate/kernel": "ffn.weight",
    "feed_forward/intermediate/bias": "ffn.bias",
    "feed_forward/output/kernel": "ffn_output.weight",
    "feed_forward/output/bias": "ffn_output.bias",
    "feed_forward_layer_norm/gamma": "full_layer_layer_norm.weight",
    "feed_forward_layer_norm/beta": "full_layer_layer_norm.bias",
}


def hf_names(prefix: str = BACKBONE_PREFIX) -> NameTable:
    """The `AlbertForPreTraining` name table; `prefix` is put before backbone names."""
    return NameTable(
        fixed={
            "embeddings/word_embeddings": f"{prefix}embeddings.word_embeddings.weight",
            "embeddings/position_embeddings": f"{prefix}embeddings.position_embeddings.weight",
            "embeddings/type_embeddings": f"{prefix}embeddings.token_type_embeddings.weight",
            "embeddings/layer_norm/gamma": f"{prefix}embeddings.LayerNorm.weight",
            "embeddings/layer_norm/beta": f"{prefix}embeddings.LayerNorm.bias",
            "embedding_projection/kernel": f"{prefix}encoder.embedding_hidden_mapping_in.weight",
            "embedding_projection/bias": f"{prefix}encoder.embedding_hidden_mapping_in.bias",
            "pooler/kernel": f"{prefix}pooler.weight",
            "pooler/bias": f"{prefix}pooler.bias",
            "mlm/transform/kernel": "predictions.dense.weight",
            "mlm/transform/bias": "predictions.dense.bias",
            "mlm/layer_norm/gamma": "predictions.LayerNorm.weight",
            "mlm/layer_norm/beta": "predictions.LayerNorm.bias",
            "mlm/output_bias": "predictions.bias",
            "sop/kernel": "sop_classifier.classifier.weight",
            "sop/bias": "sop_classifier.classifier.bias",
        },
        layer_prefix=prefix + "encoder.albert_layer_groups.{group}.albert_layers.{inner}.",
        layer_parts=_LAYER_PARTS,
    )


class HFFormat(TransposedKernelsFormat):
    """Hugging Face ALBERT names; every dense kernel stored [out, in]."""

    label = "Hugging Face ALBERT checkpoint"

    def __init__(self, prefix: str = BACKBONE_PREFIX):
        self.prefix = prefix
        self.table = hf_names(prefix)

    def transposed(self, key: str) -> bool:
        return key.endswith("/kernel")

    def is_bookkeeping(self, name: str) -> bool:
        return name.endswith("position_ids")  # a constant buffer, not a weight

    @classmethod
    def for_source(cls, source: TensorSource) -> "HFFormat":
        """The format with the backbone prefix the files use (`AlbertModel` saves none)."""
        prefixed = any(name.startswith(BACKBONE_PREFIX) for name in source.shapes)
        return cls(BACKBONE_PREFIX if prefixed else "")

    def tied_copies(self) -> dict[str, str]:
        """Decoder copy name -> the name of the weight it is tied to."""
        return {copy: (self.prefix + tied if tied.startswith("embeddings.") else tied)
                for copy, tied in TIED_COPIES.items()}


def check_tied_copies(fmt: HFFormat, source: TensorSource) -> list[str]:
    """The tied decoder copies present in `source`; warns when one differs from its original."""
    present = []
    for copy, original in fmt.tied_copies().items():
        if copy not in source.shapes:
            continue
        present.append(copy)
        if original in source.shapes and not np.array_equal(source.read(copy), source.read(original)):
            warnings.warn(
                f"{copy} differs from {original} in {source.description}; albert_tf ties the MLM decoder "
                f"to {original} and ignores the copy", UserWarning, stacklevel=3,
            )
    return present


def _torch_state_dict(paths: list[str]) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise ConversionError(
            f"{paths[0]} is a PyTorch pickle and reading it needs PyTorch (pip install torch), "
            "or save the model with safetensors (save_pretrained's default)."
        ) from None
    arrays: dict[str, np.ndarray] = {}
    for path in paths:
        # weights_only refuses pickled code: a checkpoint cannot run anything on load.
        state = torch.load(path, map_location="cpu", weights_only=True)
        for name, tensor in state.items():
            tensor = tensor.detach()
            if tensor.dtype == torch.bfloat16:
                tensor = tensor.float()
            arrays[name] = tensor.numpy()
    return arrays


def open_hf_checkpoint(path: str | os.PathLike) -> TensorSource:
    """The weights of a Hugging Face model directory (or one weights file).

    Looks for, in order: model.safetensors, model.safetensors.index.json,
    pytorch_model.bin, pytorch_model.bin.index.json.

    Raises:
        FileNotFoundError: the path or any weights file in it does not exist.
        ConversionError: only a PyTorch file is there and PyTorch is not installed.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No Hugging Face model at {path}: the path does not exist")
    if os.path.isdir(path):
        for name in (SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE, PYTORCH_FILE, PYTORCH_INDEX_FILE):
            if os.path.exists(os.path.join(path, name)):
                path = os.path.join(path, name)
                break
        else:
            raise FileNotFoundError(
                f"No Hugging Face weights in {path}: expected {SAFETENSORS_FILE} or {PYTORCH_FILE}"
            )
    if path.endswith(".safetensors") or path.endswith(".safetensors.index.json"):
        return SafetensorsSource(path)
    if path.endswith(".bin"):
        return DictSource(_torch_state_dict([path]), f"PyTorch weights {path}")
    if path.endswith(".bin.index.json"):
        with open(path, encoding="utf-8") as handle:
            shards = sorted(set(json.load(handle)["weight_map"].values()))
        return DictSource(_torch_state_dict([os.path.join(os.path.dirname(path), s) for s in shards]),
                          f"PyTorch weights {path}")
    raise ConversionError(f"Unrecognized Hugging Face weights file {path}: expected .safetensors or .bin")


def hf_config_path(path: str | os.PathLike) -> str:
    """The config.json next to a Hugging Face checkpoint path."""
    path = os.fspath(path)
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    return os.path.join(directory, CONFIG_FILE)


CLASSIFIER_NAMES = ("classifier.weight", "classifier.bias")


def huggingface_tensors(model: keras.Model) -> dict[str, np.ndarray]:
    """A model's weights under transformers' names, in PyTorch layout.

    A backbone or pretrainer gives `AlbertForPreTraining` names; an
    `AlbertClassifier` gives `AlbertForSequenceClassification`'s (`albert.*`
    and `classifier.{weight,bias}`).
    """
    classifier = _classifier_of(model)
    backbone = model.backbone if classifier is not None else model
    config = backbone_of(backbone).config
    fmt = HFFormat(BACKBONE_PREFIX)
    tensors = {
        fmt.name(key): np.asarray(fmt.from_ours(key, keras.ops.convert_to_numpy(variable), config), np.float32)
        for key, variable in model_variables(backbone).items()
    }
    if classifier is not None:
        dense = classifier.get_layer("classifier")
        tensors[CLASSIFIER_NAMES[0]] = np.ascontiguousarray(keras.ops.convert_to_numpy(dense.kernel).T, np.float32)
        tensors[CLASSIFIER_NAMES[1]] = np.asarray(keras.ops.convert_to_numpy(dense.bias), np.float32)
    return tensors


def _classifier_of(model: keras.Model):
    """`model` when it is an `AlbertClassifier`; None for a backbone or pretrainer; an error for other tasks."""
    from albert_tf.tasks import AlbertClassifier
    from albert_tf.tasks.task_model import TaskModel

    if isinstance(model, AlbertClassifier):
        return model
    if isinstance(model, TaskModel):
        raise ConversionError(f"--to hf writes backbones, pretrainers and classifiers; a {type(model).__name__} has "
                              "no Hugging Face form here: convert its encoder alone (--backbone-only)")
    return None


def _architecture(model: keras.Model) -> str:
    from albert_tf.pretrainer import AlbertPretrainer

    if _classifier_of(model) is not None:
        return "AlbertForSequenceClassification"
    return "AlbertForPreTraining" if isinstance(model, AlbertPretrainer) else "AlbertModel"


def export_huggingface(model: keras.Model, output_dir: str | os.PathLike, tokenizer_proto: bytes | None = None,
                       tokenizer_options: dict[str, bool] | None = None) -> list[str]:
    """Writes a folder that `transformers` loads: `config.json`, `model.safetensors` and the tokenizer files.

    A pretrainer loads completely into `AlbertForPreTraining`; a backbone into
    `AlbertModel` (or into `AlbertForPreTraining` with new heads); an
    `AlbertClassifier` into `AlbertForSequenceClassification`, with
    `id2label` / `label2id` from its label names, so
    `transformers.pipeline("text-classification", model=output_dir)` runs it.

    Args:
        model: a backbone, pretrainer or `AlbertClassifier`.
        output_dir: the folder (created when missing).
        tokenizer_proto: the SentencePiece model (default: a task model's
            preprocessor's). With one, spiece.model and tokenizer_config.json
            are written (see `albert_tf.convert.hf_tokenizer`).
        tokenizer_options: `lower_case` / `strip_accents` for the tokenizer config
            (default: the preprocessor's, else ALBERT's).

    Returns:
        The paths written.
    """
    from albert_tf.convert.hf_tokenizer import write_hf_tokenizer
    from albert_tf.io_utils import atomic_write_text

    classifier = _classifier_of(model)
    config: AlbertConfig = backbone_of(model.backbone if classifier is not None else model).config
    output_dir = os.fspath(output_dir)
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ConversionError(f"--to hf writes a directory, but {output_dir} is a file")
    values = config.to_huggingface_dict()
    values["architectures"] = [_architecture(model)]
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is not None:
        tokenizer = preprocessor.tokenizer
        tokenizer_proto = tokenizer_proto or tokenizer._require_model().serialized_model_proto
        tokenizer_options = tokenizer_options or {"lower_case": tokenizer.lower_case,
                                                  "strip_accents": tokenizer.strip_accents}
    if classifier is not None:
        names = classifier.label_names
        values["id2label"] = {str(index): name for index, name in enumerate(names)}
        values["label2id"] = {name: index for index, name in enumerate(names)}
        values["problem_type"] = "regression" if classifier.num_classes == 1 else "single_label_classification"
        values["classifier_dropout_prob"] = float(classifier.dropout)
    os.makedirs(output_dir, exist_ok=True)
    weights_path = os.path.join(output_dir, SAFETENSORS_FILE)
    config_path = os.path.join(output_dir, CONFIG_FILE)
    # transformers refuses safetensors files without format metadata.
    write_safetensors(weights_path, huggingface_tensors(model), metadata={"format": "pt"})
    atomic_write_text(config_path, json.dumps(values, indent=2, sort_keys=True) + "\n")
    written = [config_path, weights_path]
    if tokenizer_proto is not None:
        written += write_hf_tokenizer(output_dir, tokenizer_proto, config.max_position_embeddings, tokenizer_options)
    return written


def read_hf_config(path: str | os.PathLike) -> AlbertConfig:
    """The AlbertConfig of a Hugging Face checkpoint directory (its config.json)."""
    config_path = hf_config_path(path)
    if not os.path.exists(config_path):
        raise FileNotFoundError(
            f"No {CONFIG_FILE} next to the Hugging Face weights at {path}; pass --config"
        )
    return AlbertConfig.from_json_file(config_path)
