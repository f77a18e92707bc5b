"""The bundled configurations in `configs/` (installed as `albert_tf.configs`)."""

from __future__ import annotations

import importlib.resources
import pathlib

PRESETS = ("tiny", "base", "large", "xlarge", "xxlarge")


def preset_path(name: str) -> pathlib.Path:
    """Path of `configs/albert_<name>.json`; `name` may also be `albert_<name>`."""
    short = name.removeprefix("albert_")
    if short not in PRESETS:
        raise ValueError(f"Unknown ALBERT preset {name!r}; choose one of {list(PRESETS)}")
    resource = importlib.resources.files("albert_tf.configs") / f"albert_{short}.json"
    return pathlib.Path(str(resource))
