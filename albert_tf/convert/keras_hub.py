"""KerasHub ALBERT presets: reading one into albert_tf and writing one that KerasHub loads.

A KerasHub preset folder (`save_to_preset` of `keras_hub.models.AlbertBackbone`
or `AlbertTextClassifier`) holds `config.json` (the backbone), `model.weights.h5`,
`assets/tokenizer/vocabulary.spm` (the SentencePiece proto, byte-identical to
the input) and, for a task, `task.json` + `task.weights.h5`. Both directions go
through the `keras_hub` package itself (imported lazily): it builds and reads
its own files, and this module only maps variables, one by one, by name:

    token_embedding/embeddings            embeddings/word_embeddings
    position_embedding/embeddings         embeddings/position_embeddings
    segment_embedding/embeddings          embeddings/type_embeddings
    embeddings_layer_norm/{gamma,beta}    embeddings/layer_norm/{gamma,beta}
    embedding_projection/{kernel,bias}    embedding_projection/{kernel,bias}
    group_{g}_inner_layer_{i}/...         group_{g}/layer_{i}/...   (attention kernels 3-D there)
    pooled_dense/{kernel,bias}            pooler/{kernel,bias}
    logits/{kernel,bias} (task)           classifier/{kernel,bias}

KerasHub's ALBERT is fixed where albert_tf has options: tanh GELU, LayerNorm
epsilon 1e-12, an E -> H projection, groups of consecutive layers
(`num_layers % num_groups == 0`), whole layers shared. Other configs are
refused with the field named. Its preprocessor neither lowercases nor strips
accents (nor re-splits "1,"), so its ids equal ALBERT's only on text that is
already lowercased and unaccented; a preset read from KerasHub gets ALBERT's
own preprocessing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
from typing import Any

import keras
import numpy as np

from albert_tf.config import AlbertConfig
from albert_tf.convert.errors import ConversionError
from albert_tf.convert.formats import CheckpointFormat, NameTable
from albert_tf.convert.loader import LoadReport, load_weights
from albert_tf.convert.sources import DictSource
from albert_tf.convert.weight_map import backbone_of, model_variables

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
TASK_FILE = "task.json"
VOCABULARY_FILE = pathlib.Path("assets") / "tokenizer" / "vocabulary.spm"
BACKBONE_CLASS = "AlbertBackbone"
CLASSIFIER_CLASS = "AlbertTextClassifier"
# KerasHub's ALBERT hard-codes these.
LAYER_NORM_EPS = 1e-12
HIDDEN_ACT = "gelu_tanh"
DEFAULT_SEQUENCE_LENGTH = 128

_LAYER_PARTS = {
    "attention/query/kernel": "self_attention_layer/query/kernel",
    "attention/query/bias": "self_attention_layer/query/bias",
    "attention/key/kernel": "self_attention_layer/key/kernel",
    "attention/key/bias": "self_attention_layer/key/bias",
    "attention/value/kernel": "self_attention_layer/value/kernel",
    "attention/value/bias": "self_attention_layer/value/bias",
    "attention/output/kernel": "self_attention_layer/attention_output/kernel",
    "attention/output/bias": "self_attention_layer/attention_output/bias",
    "attention_layer_norm/gamma": "self_attention_layer_norm/gamma",
    "attention_layer_norm/beta": "self_attention_layer_norm/beta",
    "feed_forward/intermediate/kernel": "feedforward_intermediate_dense/kernel",
    "feed_forward/intermediate/bias": "feedforward_intermediate_dense/bias",
    "feed_forward/output/kernel": "feedforward_output_dense/kernel",
    "feed_forward/output/bias": "feedforward_output_dense/bias",
    "feed_forward_layer_norm/gamma": "feedforward_layer_norm/gamma",
    "feed_forward_layer_norm/beta": "feedforward_layer_norm/beta",
}

KERAS_HUB_NAMES = NameTable(
    fixed={
        "embeddings/word_embeddings": "token_embedding/embeddings",
        "embeddings/position_embeddings": "position_embedding/embeddings",
        "embeddings/type_embeddings": "segment_embedding/embeddings",
        "embeddings/layer_norm/gamma": "embeddings_layer_norm/gamma",
        "embeddings/layer_norm/beta": "embeddings_layer_norm/beta",
        "embedding_projection/kernel": "embedding_projection/kernel",
        "embedding_projection/bias": "embedding_projection/bias",
        "pooler/kernel": "pooled_dense/kernel",
        "pooler/bias": "pooled_dense/bias",
    },
    layer_prefix="group_{group}_inner_layer_{inner}/",
    layer_parts=_LAYER_PARTS,
)


class KerasHubFormat(CheckpointFormat):
    """KerasHub ALBERT variable names; attention kernels split by head ([H, heads, head_dim])."""

    label = "KerasHub ALBERT preset"
    table = KERAS_HUB_NAMES

    def source_shapes(self, key, target_shape, config):
        heads = config.num_attention_heads
        head_dim = config.hidden_size // heads
        if key.endswith(("attention/query/kernel", "attention/key/kernel", "attention/value/kernel")):
            return ((target_shape[0], heads, head_dim),)
        if key.endswith(("attention/query/bias", "attention/key/bias", "attention/value/bias")):
            return ((heads, head_dim),)
        if key.endswith("attention/output/kernel"):
            return ((heads, head_dim, target_shape[1]),)
        return (tuple(target_shape),)


def require_keras_hub() -> Any:
    """The `keras_hub` module, or a one-line error saying how to install it."""
    try:
        import keras_hub
    except ImportError:
        raise ConversionError("Reading or writing KerasHub presets needs the keras-hub package: "
                              "pip install keras-hub (it is in albert-tf's [test] extra)") from None
    return keras_hub


# ---------------------------------------------------------------- configs
def config_from_keras_hub(values: dict[str, Any], source: str = "the KerasHub config") -> AlbertConfig:
    """The `AlbertConfig` of a KerasHub `AlbertBackbone` config (`get_config()` or config.json's `config`)."""
    try:
        dropout = float(values.get("dropout", 0.0))
        return AlbertConfig(
            vocab_size=int(values["vocabulary_size"]),
            embedding_size=int(values["embedding_dim"]),
            hidden_size=int(values["hidden_dim"]),
            num_hidden_layers=int(values["num_layers"]),
            num_attention_heads=int(values["num_heads"]),
            intermediate_size=int(values["intermediate_dim"]),
            num_hidden_groups=int(values.get("num_groups", 1)),
            inner_group_num=int(values.get("num_inner_repetitions", 1)),
            hidden_act=HIDDEN_ACT,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            max_position_embeddings=int(values.get("max_sequence_length", 512)),
            type_vocab_size=int(values.get("num_segments", 2)),
            layer_norm_eps=LAYER_NORM_EPS,
        )
    except KeyError as error:
        raise ConversionError(f"{source} has no {error.args[0]!r}; it is not a KerasHub AlbertBackbone config") from None


def keras_hub_arguments(config: AlbertConfig) -> dict[str, Any]:
    """`keras_hub.models.AlbertBackbone` arguments for `config`.

    Raises:
        ConversionError: for what KerasHub's ALBERT cannot represent, naming the field.
    """
    problems = []
    if config.sharing != "all":
        problems.append(f"sharing={config.sharing!r} (KerasHub shares whole layers)")
    if config.hidden_act != HIDDEN_ACT:
        problems.append(f"hidden_act={config.hidden_act!r} (KerasHub uses tanh GELU)")
    if not np.isclose(config.layer_norm_eps, LAYER_NORM_EPS, rtol=0, atol=1e-15):
        problems.append(f"layer_norm_eps={config.layer_norm_eps} (KerasHub uses {LAYER_NORM_EPS})")
    if not config.has_embedding_projection:
        problems.append("embedding_size == hidden_size without a projection (KerasHub always projects E -> H)")
    if config.num_hidden_layers % config.num_hidden_groups:
        problems.append(f"num_hidden_layers={config.num_hidden_layers} not divisible by "
                        f"num_hidden_groups={config.num_hidden_groups}")
    if problems:
        raise ConversionError(f"KerasHub's AlbertBackbone cannot hold this model: {'; '.join(problems)}")
    if config.attention_probs_dropout_prob != config.hidden_dropout_prob:
        logger.info("KerasHub has one dropout rate; using hidden_dropout_prob=%s", config.hidden_dropout_prob)
    return dict(
        vocabulary_size=config.vocab_size,
        num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        embedding_dim=config.embedding_size,
        hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size,
        num_groups=config.num_hidden_groups,
        num_inner_repetitions=config.inner_group_num,
        dropout=config.hidden_dropout_prob,
        max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size,
    )


# ---------------------------------------------------------------- reading
@dataclasses.dataclass(frozen=True)
class KerasHubPreset:
    """What `read_keras_hub_preset` found.

    Attributes:
        model: an `AlbertBackbone`, or an `AlbertClassifier` (with a
            preprocessor when the preset has a tokenizer).
        kind: "backbone" or "classifier".
        tokenizer_proto: the SentencePiece model bytes (None without a tokenizer).
        sequence_length: the KerasHub preprocessor's length (None without one).
        report: the backbone variables loaded.
    """

    model: keras.Model
    kind: str
    tokenizer_proto: bytes | None
    sequence_length: int | None
    report: LoadReport


def _read_json(path: pathlib.Path) -> dict[str, Any]:
    try:
        values = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConversionError(f"{path} is not valid UTF-8 JSON: {error}") from None
    if not isinstance(values, dict):
        raise ConversionError(f"{path} is not a KerasHub config (a JSON object with `class_name`)")
    return values


def is_keras_hub_preset(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder whose config.json is a KerasHub (Keras-serialized) config."""
    config = pathlib.Path(path) / CONFIG_FILE
    if not config.is_file():
        return False
    try:
        values = json.loads(config.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(values, dict) and "class_name" in values and "module" in values


def read_keras_hub_preset(path: str | os.PathLike) -> KerasHubPreset:
    """Builds the albert_tf model of a KerasHub ALBERT preset folder.

    An `AlbertTextClassifier` preset (task.json) becomes an `AlbertClassifier`
    with the same head; any other preset gives the `AlbertBackbone` (another
    task's head is left out, with a warning).

    Raises:
        FileNotFoundError: no folder at `path`.
        ConversionError: not a KerasHub ALBERT preset, or keras-hub is missing.
    """
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"No KerasHub preset at {folder}: the folder does not exist")
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ConversionError(f"{folder} is not a KerasHub preset: {CONFIG_FILE} is missing")
    values = _read_json(config_path)
    if "format" in values and "task" in values:
        raise ConversionError(f"{folder} is an albert_tf preset, not a KerasHub preset; convert it with --from preset")
    if values.get("class_name") != BACKBONE_CLASS:
        raise ConversionError(f"{config_path} holds a {values.get('class_name')!r}, not a KerasHub "
                              f"{BACKBONE_CLASS}; only ALBERT presets convert")
    keras_hub = require_keras_hub()
    task_class = None
    if (folder / TASK_FILE).is_file():
        task_class = _read_json(folder / TASK_FILE).get("class_name")
    sequence_length = None
    if task_class == CLASSIFIER_CLASS:
        task = keras_hub.models.AlbertTextClassifier.from_preset(str(folder))
        kh_backbone = task.backbone
        if task.preprocessor is not None:
            sequence_length = int(task.preprocessor.sequence_length)
    else:
        if task_class is not None:
            logger.warning("%s holds a %s; only its backbone converts (the head is left out)", folder, task_class)
        task = None
        kh_backbone = keras_hub.models.AlbertBackbone.from_preset(str(folder))

    from albert_tf.backbone import AlbertBackbone

    config = config_from_keras_hub(kh_backbone.get_config(), str(config_path))
    backbone = AlbertBackbone(config, dtype="float32")
    source = DictSource({variable.path: keras.ops.convert_to_numpy(variable) for variable in kh_backbone.weights},
                        f"KerasHub preset {folder}")
    report = load_weights(backbone, KerasHubFormat(), source, config)

    vocabulary = folder / VOCABULARY_FILE
    tokenizer_proto = vocabulary.read_bytes() if vocabulary.is_file() else None
    if task is None:
        return KerasHubPreset(backbone, "backbone", tokenizer_proto, sequence_length, report)

    activation = keras.activations.serialize(task.activation) if task.activation is not None else None
    if activation not in (None, "linear", "softmax"):
        raise ConversionError(f"{folder / TASK_FILE}: activation {activation!r}; an AlbertClassifier outputs "
                              "logits, so only a linear (or softmax) KerasHub head converts")
    if activation == "softmax":
        logger.info("%s ends in softmax; the AlbertClassifier outputs the logits before it", folder)
    model = _classifier(backbone, int(task.num_classes), float(task.dropout), tokenizer_proto,
                        sequence_length or min(DEFAULT_SEQUENCE_LENGTH, config.max_position_embeddings))
    dense = model.get_layer("classifier")
    dense.kernel.assign(keras.ops.convert_to_numpy(task.output_dense.kernel))
    dense.bias.assign(keras.ops.convert_to_numpy(task.output_dense.bias))
    return KerasHubPreset(model, "classifier", tokenizer_proto, sequence_length, report)


def _classifier(backbone: Any, num_classes: int, dropout: float, tokenizer_proto: bytes | None,
                sequence_length: int) -> keras.Model:
    from albert_tf.preprocessor import AlbertPreprocessor
    from albert_tf.tasks import AlbertClassifier

    preprocessor = None
    if tokenizer_proto is not None:
        # ALBERT's own preprocessing (lowercase, no accents): what the vocabulary was built for.
        preprocessor = AlbertPreprocessor.from_spm_model(tokenizer_proto, sequence_length)
    return AlbertClassifier(backbone, num_classes, dropout=dropout, preprocessor=preprocessor)


# ---------------------------------------------------------------- writing
def keras_hub_backbone(model: keras.Model) -> Any:
    """A `keras_hub.models.AlbertBackbone` holding the weights of an albert_tf backbone (or its task model's)."""
    keras_hub = require_keras_hub()
    backbone = _our_backbone(model)
    config = backbone.config
    kh_backbone = keras_hub.models.AlbertBackbone(**keras_hub_arguments(config), dtype="float32")
    by_path = {variable.path: variable for variable in kh_backbone.weights}
    fmt = KerasHubFormat()
    variables = model_variables(backbone)
    names = {key: fmt.name(key) for key in variables}
    unknown = sorted(name for name in names.values() if name not in by_path)
    if unknown:  # a KerasHub release that renamed its layers
        raise ConversionError(f"keras_hub's AlbertBackbone has no variables {unknown[:4]}; this keras-hub version "
                              "names ALBERT's layers differently")
    for key, variable in variables.items():
        target = by_path[names[key]]
        target.assign(fmt.from_ours(key, keras.ops.convert_to_numpy(variable), config).reshape(target.shape))
    left = sorted(set(by_path) - set(names.values()))
    if left:
        raise ConversionError(f"keras_hub's AlbertBackbone has variables albert_tf has no value for: {left[:4]}")
    return kh_backbone


def _our_backbone(model: keras.Model) -> Any:
    from albert_tf.tasks.task_model import TaskModel

    return model.backbone if isinstance(model, TaskModel) else backbone_of(model)


def export_keras_hub(model: keras.Model, output_dir: str | os.PathLike, tokenizer_proto: bytes | None = None,
                     sequence_length: int | None = None) -> list[str]:
    """Writes a KerasHub preset folder that `keras_hub.models.AlbertBackbone.from_preset` loads, or, for an
    `AlbertClassifier`, `keras_hub.models.AlbertTextClassifier.from_preset`.

    Args:
        model: an `AlbertBackbone` or `AlbertClassifier` (of a pretrainer, the backbone is written).
        output_dir: the folder, written aside and renamed into place; it must not exist.
        tokenizer_proto: the SentencePiece model (default: the classifier's preprocessor's).
            Required for a classifier: KerasHub's text classifier preset carries its preprocessor.
        sequence_length: the KerasHub preprocessor's length (default: the classifier's
            preprocessor's, else 128).

    Returns:
        The files written.
    """
    from albert_tf.io_utils import staged_directory
    from albert_tf.tasks import AlbertClassifier
    from albert_tf.tasks.task_model import TaskModel

    keras_hub = require_keras_hub()
    output_dir = pathlib.Path(output_dir)
    if isinstance(model, TaskModel) and not isinstance(model, AlbertClassifier):
        raise ConversionError(f"KerasHub has no ALBERT {type(model).__name__}; convert its encoder alone "
                              "(--backbone-only)")
    from albert_tf.pretrainer import AlbertPretrainer

    if isinstance(model, AlbertPretrainer):
        logger.warning("KerasHub's ALBERT has no sentence-order head: writing the backbone alone (MLM and SOP heads "
                       "left out)")
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is not None:
        tokenizer_proto = tokenizer_proto or preprocessor.tokenizer._require_model().serialized_model_proto
        sequence_length = sequence_length or preprocessor.sequence_length
        if preprocessor.tokenizer.lower_case or preprocessor.tokenizer.strip_accents:
            logger.warning("KerasHub's ALBERT preprocessor neither lowercases nor strips accents: give the KerasHub "
                           "model lowercased, unaccented text to get this model's token ids")
    sequence_length = sequence_length or min(DEFAULT_SEQUENCE_LENGTH, _our_backbone(model).config.max_position_embeddings)
    if output_dir.exists():
        raise ConversionError(f"{output_dir} already exists; choose another output folder, or remove it")

    kh_backbone = keras_hub_backbone(model)
    tokenizer = None
    if tokenizer_proto is not None:
        tokenizer = keras_hub.models.AlbertTokenizer(proto=tokenizer_proto)
        if tokenizer.vocabulary_size() != kh_backbone.vocabulary_size:
            raise ConversionError(f"The SentencePiece model has {tokenizer.vocabulary_size()} pieces but the "
                                  f"backbone's vocab_size is {kh_backbone.vocabulary_size}; give the model's own")
    with staged_directory(output_dir) as staging:
        if isinstance(model, AlbertClassifier):
            if tokenizer is None:
                raise ConversionError("A KerasHub AlbertTextClassifier preset carries its tokenizer; pass the "
                                      "SentencePiece model (--spm-model)")
            if model.labels:
                logger.info("KerasHub presets hold no label names; %s stay in the albert_tf preset", model.labels)
            preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(tokenizer=tokenizer,
                                                                             sequence_length=sequence_length)
            task = keras_hub.models.AlbertTextClassifier(backbone=kh_backbone, num_classes=model.num_classes,
                                                         preprocessor=preprocessor, dropout=model.dropout)
            dense = model.get_layer("classifier")
            task.output_dense.kernel.assign(keras.ops.convert_to_numpy(dense.kernel))
            task.output_dense.bias.assign(keras.ops.convert_to_numpy(dense.bias))
            task.save_to_preset(str(staging))
        else:
            kh_backbone.save_to_preset(str(staging))
            if tokenizer is not None:
                tokenizer.save_to_preset(str(staging))
    return sorted(str(path) for path in output_dir.rglob("*") if path.is_file())
