"""setup.cfg lists every package, so a (non-editable) install is complete."""

from __future__ import annotations

import configparser
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_setup_cfg():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    listed = set(parser["options"]["packages"].split())
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("albert_tf", "export")  # export/ is a top-level package
        for path in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in path.parts
    }
    assert found <= listed, f"add to setup.cfg [options] packages: {sorted(found - listed)}"
    assert "albert_tf.configs" in listed and (ROOT / "configs" / "albert_base.json").exists()
