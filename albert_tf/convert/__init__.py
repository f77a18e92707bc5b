"""Checkpoint interop: TF1 (google-research), TF Model Garden and Hugging Face ALBERT weights.

`load_checkpoint` builds an `AlbertBackbone` or `AlbertPretrainer` holding a
checkpoint's weights; `convert_checkpoint` also writes it as `.keras` or as a
Hugging Face directory (`export_huggingface`). Every name and shape is
checked against the config; problems are `ValueError`s naming the variables.
"""

from albert_tf.convert.api import (
    ConversionResult,
    convert_checkpoint,
    load_checkpoint,
    load_keras_model,
    open_checkpoint,
    resolve_config,
    save_keras_model,
)
from albert_tf.convert.errors import (
    ConversionError,
    MissingVariablesError,
    ShapeMismatchError,
    UnsupportedCheckpointError,
    UnusedVariablesWarning,
    VocabSizeMismatchError,
)
from albert_tf.convert.hf import export_huggingface, huggingface_tensors
from albert_tf.convert.loader import LoadReport
from albert_tf.convert.weight_map import model_variables

__all__ = [
    "ConversionError",
    "ConversionResult",
    "LoadReport",
    "MissingVariablesError",
    "ShapeMismatchError",
    "UnsupportedCheckpointError",
    "UnusedVariablesWarning",
    "VocabSizeMismatchError",
    "convert_checkpoint",
    "export_huggingface",
    "huggingface_tensors",
    "load_checkpoint",
    "load_keras_model",
    "model_variables",
    "open_checkpoint",
    "resolve_config",
    "save_keras_model",
]
