"""Model interop: TF1 (google-research), TF Model Garden, Hugging Face and KerasHub ALBERT models.

`load_checkpoint` builds an `AlbertBackbone` or `AlbertPretrainer` holding a
checkpoint's weights; `load_source` reads any source (also albert_tf presets,
`.keras` files and KerasHub presets); `convert_checkpoint` writes the result as
an albert_tf preset folder, a Hugging Face folder (`export_huggingface`, with
the tokenizer files) or a KerasHub preset (`export_keras_hub`). Every name and
shape is checked against the config; problems are `ValueError`s naming the
variables.
"""

from albert_tf.convert.api import (
    ConversionResult,
    convert_checkpoint,
    load_checkpoint,
    load_keras_model,
    load_source,
    open_checkpoint,
    resolve_config,
    save_preset,
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
from albert_tf.convert.hf_tokenizer import write_hf_tokenizer
from albert_tf.convert.keras_hub import export_keras_hub, read_keras_hub_preset
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
    "export_keras_hub",
    "huggingface_tensors",
    "load_checkpoint",
    "load_keras_model",
    "load_source",
    "model_variables",
    "open_checkpoint",
    "read_keras_hub_preset",
    "resolve_config",
    "save_preset",
    "write_hf_tokenizer",
]
