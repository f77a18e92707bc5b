"""Named configurations and preset folders: what a command's `--config`, `--init` or `PRESET` names.

* `load_config("tiny" | "config.json" | preset folder)`: an `AlbertConfig`.
* `load_preset(folder)`: the model a preset holds, of the class its task kind names.

The folder format itself is `albert_tf.preset_format`.
"""

from __future__ import annotations

import os
from typing import Any

import keras

from albert_tf.backbone import AlbertBackbone
from albert_tf.config import BUILTIN_CONFIGS, AlbertConfig, builtin_config_path
from albert_tf.preset_format import is_preset, read_preset
from albert_tf.pretrainer import AlbertPretrainer
from albert_tf.tasks import AlbertClassifier, AlbertMultipleChoice, AlbertSpanQA, AlbertTokenClassifier

# Kept for callers of the earlier names.
PRESETS = BUILTIN_CONFIGS
preset_path = builtin_config_path

MODEL_CLASSES: dict[str, Any] = {
    "backbone": AlbertBackbone,
    "pretrainer": AlbertPretrainer,
    "classifier": AlbertClassifier,
    "span_qa": AlbertSpanQA,
    "multiple_choice": AlbertMultipleChoice,
    "token_classifier": AlbertTokenClassifier,
}


def load_config(name_or_path: str | os.PathLike) -> AlbertConfig:
    """A bundled config by name (`tiny`, `albert_base`, ...), a preset folder's backbone config,
    or a config JSON file in any dialect `AlbertConfig.from_json_file` reads."""
    name = os.fspath(name_or_path)
    short = name.removeprefix("albert_")
    if short in BUILTIN_CONFIGS:
        return AlbertConfig.from_preset(short)
    if os.path.isdir(name):
        return read_preset(name).config
    return AlbertConfig.from_json_file(name)


def load_preset(preset: str | os.PathLike, **kwargs: Any) -> keras.Model:
    """The model in a preset folder: `AlbertBackbone`, `AlbertPretrainer` or a task model (with its
    preprocessor and labels), chosen by the task kind in its `config.json`."""
    spec = read_preset(preset)
    return MODEL_CLASSES[spec.kind].from_preset(preset, **kwargs)


__all__ = ["MODEL_CLASSES", "PRESETS", "is_preset", "load_config", "load_preset", "preset_path", "read_preset"]
