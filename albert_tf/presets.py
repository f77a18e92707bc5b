"""The bundled configurations in `configs/` (installed as `albert_tf.configs`)."""

from __future__ import annotations

import importlib.resources
import os
import pathlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from albert_tf.config import AlbertConfig

PRESETS = ("tiny", "base", "large", "xlarge", "xxlarge")


def preset_path(name: str) -> pathlib.Path:
    """Path of `configs/albert_<name>.json`; `name` may also be `albert_<name>`."""
    short = name.removeprefix("albert_")
    if short not in PRESETS:
        raise ValueError(f"Unknown ALBERT preset {name!r}; choose one of {list(PRESETS)}")
    resource = importlib.resources.files("albert_tf.configs") / f"albert_{short}.json"
    return pathlib.Path(str(resource))


def load_config(name_or_path: str | os.PathLike) -> "AlbertConfig":
    """A preset by name (`tiny`, `albert_base`, ...), else a config JSON file
    in any dialect `AlbertConfig.from_json_file` reads."""
    from albert_tf.config import AlbertConfig

    name = os.fspath(name_or_path)
    short = name.removeprefix("albert_")
    return AlbertConfig.from_preset(short) if short in PRESETS else AlbertConfig.from_json_file(name)
