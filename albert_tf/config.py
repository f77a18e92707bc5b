"""`AlbertConfig`: the one flat description of an ALBERT network.

The field names are the backbone's arguments. Three JSON dialects are read:

* albert_tf's own (exactly the dataclass fields, written by `to_json_file`);
* the original google-research `albert_config.json` (`hidden_act: "gelu"`
  there means the tanh approximation, and some keys are unused options);
* Hugging Face `config.json` (`model_type: "albert"`; `"gelu"` there means the
  exact erf GELU, `"gelu_new"` the tanh one).

Activation names are spelled out (`gelu_tanh`, `gelu_exact`) because the bare
word "gelu" means different functions in the two source dialects.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import math
import os
import pathlib
from typing import Any, Literal

from albert_tf.activations import ACTIVATIONS

_FIELD_TYPES = {"int": int, "float": float, "str": str}

ConfigSource = Literal["auto", "albert_tf", "google_research", "huggingface"]

# The configurations bundled in configs/ (installed as albert_tf.configs).
BUILTIN_CONFIGS = ("tiny", "base", "large", "xlarge", "xxlarge")

# What the layers of one group's span of depths share (paper Table 4).
SHARING_MODES = ("all", "attention", "ffn", "none")

# Keys that the original google-research config files (and old Hugging Face
# ones, which copied them) carry. They select
# experimental network variants that were never released; only their
# defaults (which the released models use) are supported.
_GOOGLE_RESEARCH_ONLY_DEFAULTS = {
    "net_structure_type": 0,
    "gap_size": 0,
    "num_memory_blocks": 0,
    "down_scale_factor": 1,
}

_HF_ACTIVATIONS = {
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "gelu": "gelu_exact",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
    "tanh": "tanh",
}
_GOOGLE_RESEARCH_ACTIVATIONS = {
    "gelu": "gelu_tanh",  # modeling.gelu in google-research/albert is the tanh form
    "relu": "relu",
    "tanh": "tanh",
}
# Hugging Face keys that describe tokenizer ids, heads or bookkeeping, not the
# backbone; reading ignores them.
_HF_IGNORED_KEYS = {
    "model_type", "architectures", "transformers_version", "torch_dtype", "dtype",
    "pad_token_id", "bos_token_id", "eos_token_id", "classifier_dropout_prob",
    "position_embedding_type", "output_past", "id2label", "label2id",
    "tie_word_embeddings", "_name_or_path", "problem_type", "finetuning_task",
}


@dataclasses.dataclass(frozen=True)
class AlbertConfig:
    """Hyper-parameters of an ALBERT backbone.

    Layer `l` of `num_hidden_layers` uses group `int(l * num_hidden_groups /
    num_hidden_layers)`; each group holds `inner_group_num` transformer layers
    that are applied in order. The released models use one group of one layer,
    so a single layer object is reused across the whole depth.

    `sharing` says what is shared within each group's span of depths (the
    ablations of the paper's Table 4): `all` (the whole layer: ALBERT),
    `attention` (the self-attention block and its LayerNorm; each depth owns
    its feed-forward block), `ffn` (the feed-forward block and its LayerNorm;
    each depth owns its attention block) or `none` (every depth owns its
    layers, as BERT; `num_hidden_groups` then changes nothing). With
    `inner_group_num` > 1 the sharing applies per inner position.

    When `embedding_size == hidden_size` there is no E -> H projection, as in
    the original code (and BERT): Hugging Face ALBERT always has one, so such
    a config has no Hugging Face form.

    Args:
        vocab_size: SentencePiece vocabulary size V.
        embedding_size: width E of the factorized token embeddings.
        hidden_size: transformer width H.
        num_hidden_layers: depth L (applications of the shared layers).
        num_attention_heads: attention heads; must divide `hidden_size`.
        intermediate_size: feed-forward inner width.
        num_hidden_groups: number G of distinct groups of layer weights.
        inner_group_num: transformer layers inside each group.
        sharing: `all`, `attention`, `ffn` or `none` (see above).
        hidden_act: `gelu_tanh` (ALBERT's), `gelu_exact`, `relu`, `silu`, `tanh`.
        hidden_dropout_prob: dropout on embeddings and layer outputs.
        attention_probs_dropout_prob: dropout on attention probabilities.
        max_position_embeddings: longest supported sequence.
        type_vocab_size: number of segment ids.
        initializer_range: stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon.

    Example:
    >>> config = AlbertConfig.from_preset("tiny")
    >>> config.hidden_size
    128
    """

    vocab_size: int = 30000
    embedding_size: int = 128
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    num_hidden_groups: int = 1
    inner_group_num: int = 1
    sharing: str = "all"
    hidden_act: str = "gelu_tanh"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            expected = _FIELD_TYPES[field.type]
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, field.name, float(value))
                continue
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ValueError(
                    f"AlbertConfig field `{field.name}` must be of type {expected.__name__}. "
                    f"Received: {field.name}={value!r}"
                )
        for name in (
            "vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
            "num_attention_heads", "intermediate_size", "num_hidden_groups",
            "inner_group_num", "max_position_embeddings", "type_vocab_size",
        ):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(
                    f"AlbertConfig field `{name}` must be a positive integer. Received: {name}={value}"
                )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0 or math.isnan(value):
                raise ValueError(
                    f"AlbertConfig field `{name}` must be in [0, 1). Received: {name}={value}"
                )
        for name in ("initializer_range", "layer_norm_eps"):
            value = getattr(self, name)
            if not value > 0.0 or math.isinf(value):
                raise ValueError(
                    f"AlbertConfig field `{name}` must be a positive finite number. Received: {name}={value}"
                )
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                "AlbertConfig field `hidden_size` must be divisible by `num_attention_heads`. "
                f"Received: hidden_size={self.hidden_size}, num_attention_heads={self.num_attention_heads}"
            )
        if self.num_hidden_layers % self.num_hidden_groups:
            raise ValueError(
                "AlbertConfig field `num_hidden_layers` must be divisible by `num_hidden_groups`. "
                f"Received: num_hidden_layers={self.num_hidden_layers}, "
                f"num_hidden_groups={self.num_hidden_groups}"
            )
        if self.sharing not in SHARING_MODES:
            raise ValueError(
                f"AlbertConfig field `sharing` must be one of {list(SHARING_MODES)}. "
                f"Received: sharing={self.sharing!r}"
            )
        if self.hidden_act not in ACTIVATIONS:
            hint = ""
            if self.hidden_act in ("gelu", "gelu_new"):
                hint = (
                    " 'gelu' is ambiguous (tanh form in google-research configs, exact erf form in "
                    "Hugging Face configs): write 'gelu_tanh' (ALBERT's) or 'gelu_exact', or load the "
                    "file with source='google_research' / 'huggingface'."
                )
            raise ValueError(
                f"AlbertConfig field `hidden_act` must be one of {sorted(ACTIVATIONS)}. "
                f"Received: hidden_act={self.hidden_act!r}.{hint}"
            )

    # ------------------------------------------------------------ derived sizes
    @property
    def head_size(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_attention_heads

    def group_of_layer(self, layer_index: int) -> int:
        """The group whose weights layer `layer_index` (0-based) uses."""
        return int(layer_index * self.num_hidden_groups / self.num_hidden_layers)

    @property
    def has_embedding_projection(self) -> bool:
        """Whether the backbone maps E -> H (not when they are equal)."""
        return self.embedding_size != self.hidden_size

    # ---------------------------------------------------------------- dict/json
    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (albert_tf dialect)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "AlbertConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: ConfigSource = "auto") -> "AlbertConfig":
        """Builds a config from a dict in any of the three dialects.

        Args:
            values: the parsed JSON object.
            source: the dialect; `auto` detects Hugging Face by `model_type` and
                google-research by its unused structural keys.
        """
        if not isinstance(values, dict):
            raise ValueError(f"An ALBERT config must be a JSON object. Received: {type(values).__name__}")
        if source == "auto":
            source = _detect_source(values)
        if source == "huggingface":
            return cls._from_huggingface(values)
        if source == "google_research":
            return cls._from_google_research(values)
        if source == "albert_tf":
            return cls._from_fields(values, dialect="albert_tf")
        raise ValueError(
            "`source` must be one of 'auto', 'albert_tf', 'google_research', 'huggingface'. "
            f"Received: source={source!r}"
        )

    @classmethod
    def _from_fields(cls, values: dict[str, Any], dialect: str) -> "AlbertConfig":
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown AlbertConfig field(s) {unknown} in a {dialect} config. "
                f"Known fields: {sorted(known)}"
            )
        return cls(**values)

    @classmethod
    def _from_google_research(cls, values: dict[str, Any]) -> "AlbertConfig":
        values = _without_unreleased_structure_keys(values, "google-research")
        _check_all_shared(values, "google-research")
        values["hidden_act"] = _map_activation(values.get("hidden_act", "gelu"), _GOOGLE_RESEARCH_ACTIVATIONS, "google-research")
        values.setdefault("layer_norm_eps", 1e-12)
        return cls._from_fields(values, dialect="google-research")

    @classmethod
    def _from_huggingface(cls, values: dict[str, Any]) -> "AlbertConfig":
        model_type = values.get("model_type")
        if model_type != "albert":
            raise ValueError(
                f"Hugging Face config has model_type={model_type!r}; only 'albert' configs can be read."
            )
        position_type = values.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError(
                "Hugging Face config field `position_embedding_type` must be 'absolute'. "
                f"Received: position_embedding_type={position_type!r}"
            )
        fields = {key: value for key, value in values.items() if key not in _HF_IGNORED_KEYS}
        fields = _without_unreleased_structure_keys(fields, "Hugging Face")
        _check_all_shared(fields, "Hugging Face")
        fields["hidden_act"] = _map_activation(fields.get("hidden_act", "gelu_new"), _HF_ACTIVATIONS, "Hugging Face")
        config = cls._from_fields(fields, dialect="Hugging Face")
        if not config.has_embedding_projection:
            raise ValueError(
                f"Hugging Face config has embedding_size == hidden_size ({config.hidden_size}): Hugging Face "
                "ALBERT then still has an E -> H projection, which albert_tf (like the original code) omits "
                "when E == H, so its weights would have no place here."
            )
        return config

    def to_huggingface_dict(self) -> dict[str, Any]:
        """The config as a Hugging Face `AlbertConfig` JSON object.

        Raises:
            ValueError: for what Hugging Face ALBERT cannot represent: sharing
                other than `all`, or `embedding_size == hidden_size` (its
                model always has the E -> H projection).
        """
        if self.sharing != "all":
            raise ValueError(
                f"Hugging Face ALBERT shares whole layers only; a config with sharing={self.sharing!r} "
                "has no Hugging Face form. Save it with `to_json_file` (albert_tf dialect) instead."
            )
        if not self.has_embedding_projection:
            raise ValueError(
                f"embedding_size == hidden_size ({self.hidden_size}): this model has no E -> H projection, "
                "which Hugging Face ALBERT always has, so it has no Hugging Face form."
            )
        values = self.to_dict()
        del values["sharing"]  # not a Hugging Face key; its ALBERT shares whole layers
        values["hidden_act"] = {"gelu_tanh": "gelu_new", "gelu_exact": "gelu"}.get(self.hidden_act, self.hidden_act)
        values.update(model_type="albert", architectures=["AlbertForPreTraining"],
                      pad_token_id=0, bos_token_id=2, eos_token_id=3,
                      position_embedding_type="absolute", classifier_dropout_prob=0.1)
        return values

    @classmethod
    def from_json_file(cls, path: str | os.PathLike, source: ConfigSource = "auto") -> "AlbertConfig":
        """Reads a config JSON file of any dialect (see `from_dict`)."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as handle:
                values = json.load(handle)
        except FileNotFoundError:
            raise ValueError(f"ALBERT config file not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"ALBERT config file {path} is not valid UTF-8 JSON: {error}") from None
        try:
            return cls.from_dict(values, source=source)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

    def to_json_file(self, path: str | os.PathLike) -> None:
        """Writes the config (albert_tf dialect) atomically."""
        from albert_tf.io_utils import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_preset(cls, name: str) -> "AlbertConfig":
        """One of the bundled configs: `tiny`, `base`, `large`, `xlarge`, `xxlarge`."""
        return cls.from_json_file(builtin_config_path(name), source="albert_tf")


def builtin_config_path(name: str) -> pathlib.Path:
    """Path of the bundled `configs/albert_<name>.json`; `name` may also be `albert_<name>`."""
    short = name.removeprefix("albert_")
    if short not in BUILTIN_CONFIGS:
        raise ValueError(f"Unknown ALBERT preset {name!r} (a bundled config); choose one of {list(BUILTIN_CONFIGS)}")
    try:
        folder = importlib.resources.files("albert_tf.configs")
    except ModuleNotFoundError:
        # setup.cfg installs the top-level configs/ folder as this package; a bare source tree lacks it.
        raise ModuleNotFoundError(
            "albert_tf.configs (the bundled presets, installed from the checkout's configs/ folder) is missing: "
            "albert_tf is imported from a source checkout that is not installed; run `pip install -e .` in it.",
            name="albert_tf.configs",
        ) from None
    return pathlib.Path(str(folder / f"albert_{short}.json"))


def _detect_source(values: dict[str, Any]) -> ConfigSource:
    if "model_type" in values:
        return "huggingface"
    if any(key in values for key in _GOOGLE_RESEARCH_ONLY_DEFAULTS):
        return "google_research"
    return "albert_tf"


def _without_unreleased_structure_keys(values: dict[str, Any], dialect: str) -> dict[str, Any]:
    """Drops the experimental-structure keys, refusing non-default values."""
    values = dict(values)
    for key, supported in _GOOGLE_RESEARCH_ONLY_DEFAULTS.items():
        received = values.pop(key, supported)
        if received != supported:
            raise ValueError(
                f"{dialect} config key `{key}` is {received!r}; only the released "
                f"architecture ({key}={supported!r}) is supported."
            )
    return values


def _check_all_shared(values: dict[str, Any], dialect: str) -> None:
    """Other dialects share whole layers; a `sharing` key there must say so."""
    received = values.get("sharing", "all")
    if received != "all":
        raise ValueError(
            f"{dialect} configs describe whole-layer sharing only. Received: sharing={received!r}; "
            "write partial sharing in an albert_tf config."
        )


def _map_activation(name: Any, table: dict[str, str], dialect: str) -> str:
    if name not in table:
        raise ValueError(
            f"{dialect} config field `hidden_act` must be one of {sorted(table)}. Received: hidden_act={name!r}"
        )
    return table[name]
