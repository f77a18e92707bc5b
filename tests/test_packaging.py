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
        for path in (ROOT / "albert_tf").rglob("__init__.py")
        if "__pycache__" not in path.parts
    }
    # export/ and configs/ are top-level folders installed inside albert_tf.
    found |= {
        "albert_tf." + ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("export", "configs")
        for path in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in path.parts
    }
    assert found <= listed, f"add to setup.cfg [options] packages: {sorted(found - listed)}"
    assert "export" not in listed, "export/ installs as albert_tf.export, never as a top-level package"
    assert "albert_tf.configs" in listed and (ROOT / "configs" / "albert_base.json").exists()


def test_importing_albert_tf_registers_every_saved_model_class(tmp_path):
    """A fresh interpreter that only imports albert_tf loads a compiled pretrainer
    and a compiled classifier (their optimizer and schedule included)."""
    import subprocess
    import sys

    script = f"""
import keras, numpy as np
from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.optimization import create_optimizer
from albert_tf.pretrainer import AlbertPretrainer
from albert_tf.tasks import AlbertClassifier
config = AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=32, max_position_embeddings=16)
for index, model in enumerate([AlbertPretrainer(AlbertBackbone(config)), AlbertClassifier(AlbertBackbone(config), 2)]):
    model.compile(optimizer=create_optimizer("lamb", learning_rate=1e-3, warmup_steps=1, total_steps=10))
    model.save(r"{tmp_path}/model_" + str(index) + ".keras")
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    load = f"""
import keras, albert_tf
for index in range(2):
    keras.saving.load_model(r"{tmp_path}/model_" + str(index) + ".keras")
"""
    result = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
