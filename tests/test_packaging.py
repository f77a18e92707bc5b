"""Packaging: setup.cfg lists every package; the wheel installs `albert_tf` and nothing else.

The wheel tests build the wheel from the repository, install it with `--no-deps` into a fresh
venv whose dependencies come from the running environment (a `.pth` line that
adds this environment's site-packages: its `.pth` files, among them the
editable install of the source tree, are not executed, so `albert_tf` can
only come from the wheel), then check what landed in site-packages and run
the installed `albert` from a folder holding a hostile `export.py`.
"""

from __future__ import annotations

import configparser
import os
import pathlib
import subprocess
import sys
import sysconfig
import zipfile

import pytest

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




def test_setup_cfg_ci_and_readme_state_the_same_pythons():
    """python_requires, the classifiers, .ci/run's list and the README name the same Python versions."""
    import re

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    requires = parser["options"]["python_requires"].strip()
    match = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", requires)
    assert match, f"python_requires {requires!r} is not of the form >=3.X,<3.Y"
    supported = [f"3.{minor}" for minor in range(int(match[1]), int(match[2]))]
    classifiers = re.findall(r"Programming Language :: Python :: (3\.\d+)", parser["metadata"]["classifiers"])
    assert classifiers == supported, f"classifiers {classifiers} != python_requires {supported}"
    ci = re.search(r'^SUPPORTED="([^"]*)"', (ROOT / ".ci" / "run").read_text(), re.M)
    assert ci and ci[1].split() == supported, f".ci/run SUPPORTED {ci and ci[1]!r} != python_requires {supported}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`python_requires {requires}`" in readme, "README 'Which Python' must state python_requires"
    assert f"{supported[0]} to {supported[-1]}" in readme, "README 'Set up' must name the supported range"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the running environment's setuptools builds it, offline and fast.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True, text=True)
    (path,) = out.glob("albert_tf-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = pathlib.Path(subprocess.run(
        [str(root / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install",
                    "--no-deps", "-q", str(wheel)], check=True, capture_output=True, text=True)
    return root


def _site_packages(venv: pathlib.Path) -> pathlib.Path:
    (site,) = venv.glob("lib/python*/site-packages")
    return site


def test_wheel_holds_only_albert_tf(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"albert_tf", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}, top_level
    assert "albert_tf/py.typed" in names
    assert "albert_tf/export/bundle.py" in names and "albert_tf/configs/albert_base.json" in names
    assert not any(name.startswith("export/") for name in names)


def test_install_adds_no_top_level_name_but_albert_tf(venv):
    installed = {path.name for path in _site_packages(venv).iterdir()} - {"dependencies.pth", "__pycache__"}
    others = {name for name in installed if name != "albert_tf" and not name.startswith("albert_tf-")}
    assert others == set(), f"the wheel installed top-level names other than albert_tf: {others}"


def test_installed_albert_help_and_export_work_despite_a_local_export_py(venv, tmp_path):
    # A user's own export.py in the working folder must not shadow albert_tf.export.
    (tmp_path / "export.py").write_text("raise RuntimeError('the user export.py was imported')\n")
    env = {**os.environ, "PYTHONPATH": ""}
    help_ = subprocess.run([str(venv / "bin" / "albert"), "--help"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert help_.returncode == 0, help_.stderr
    assert "export" in help_.stdout and "demo" in help_.stdout
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import albert_tf, albert_tf.export.bundle as b; print(albert_tf.__file__); print(b.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr
    site = str(_site_packages(venv))
    for line in probe.stdout.split():
        assert line.startswith(site), f"imported from {line}, not from the installed wheel"
