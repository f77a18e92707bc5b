"""Shared fixtures: tiny configurations, deterministic inputs, a learnable csv task, and skip markers for
tests that need ../shared/data or MediaPipe."""

from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import random

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from albert_tf import AlbertConfig  # noqa: E402

# The real ALBERT vocabulary, corpora and GLUE/SQuAD samples: ../shared/data next to
# the checkout, or wherever ALBERT_SHARED_DATA points (a clone elsewhere, CI).
SHARED_DATA = pathlib.Path(os.environ.get("ALBERT_SHARED_DATA")
                           or pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data")


def needs_data(*paths: str) -> pytest.MarkDecorator:
    """Skips the test (or module, as `pytestmark`) unless every path under SHARED_DATA exists, naming those missing.

    Point ALBERT_SHARED_DATA at a folder that does not exist to see what runs without the data.
    """
    missing = [path for path in paths if not (SHARED_DATA / path).exists()]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} under {SHARED_DATA}")


needs_mediapipe = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                                     reason="needs mediapipe (pip install mediapipe)")

TINY_FIELDS = dict(
    vocab_size=100,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)


# Weight of one `long` test against one other test when ordering the files (measured on 2 cores: the long tests
# 38 s on average, the others 1.2 s).
LONG_TEST_WEIGHT = 30


@pytest.hookimpl(trylast=True)  # after `-m` has deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Runs the files with the most work first, keeping each file's own order.

    The two test workers take whole files from the front of the queue (setup.cfg: `--dist loadfile
    --no-loadscope-reorder`), so a long file queued last would leave one worker running it alone. xdist's own
    order (most tests first) queued the demo's file, a few tests that take minutes, near the end."""
    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    weights: dict[str, int] = {}
    for item in items:
        weights[file_of(item)] = weights.get(file_of(item), 0) + (LONG_TEST_WEIGHT if item.get_closest_marker("long")
                                                                  else 1)
    # sort is stable: ties and each file's tests keep the collection order.
    items.sort(key=lambda item: -weights[file_of(item)])


@pytest.fixture
def tiny_config() -> AlbertConfig:
    """A few-thousand-parameter ALBERT for fast structural tests."""
    return AlbertConfig(**TINY_FIELDS)


@pytest.fixture(autouse=True)
def _isolate_keras_state():
    """Each test starts from the float32 policy and a fixed seed."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


def one_line_error(capsys, argv, *fragments, absent=()) -> str:
    """Runs `albert ARGV` in this process and returns its error: exit code 2 and one line on stderr starting
    `albert COMMAND: error: `, holding each of `fragments` and none of `absent`."""
    from albert_tf.cli.main import main

    argv = [str(argument) for argument in argv]
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert len(error.splitlines()) == 1, error
    assert error.startswith(f"albert {argv[0]}: error: ") and "Traceback" not in captured.err, error
    for fragment in fragments:
        assert str(fragment) in error, (fragment, error)
    for fragment in absent:
        assert str(fragment) not in error, (fragment, error)
    return error


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    """The argument parser of each `albert COMMAND`, by command name."""
    from albert_tf.cli.main import build_parser

    subparsers = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    return dict(subparsers.choices)


def subcommand_default(command: str, name: str):
    """The default of option `name` (a parser default or a `--flag`'s dest) of `albert COMMAND`."""
    return subcommand_parsers()[command].get_default(name)


def make_inputs(batch: int, seq_length: int, vocab_size: int, seed: int = 0, pad: int = 0) -> dict[str, np.ndarray]:
    """Random ids with `[CLS]`-like first token, two segments and `pad` trailing padding tokens."""
    rng = np.random.default_rng(seed)
    word_ids = rng.integers(5, vocab_size, size=(batch, seq_length)).astype("int32")
    mask = np.ones((batch, seq_length), "int32")
    type_ids = np.zeros((batch, seq_length), "int32")
    type_ids[:, seq_length // 2:] = 1
    if pad:
        word_ids[:, -pad:] = 0
        mask[:, -pad:] = 0
        type_ids[:, -pad:] = 0
    return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids}


KEYWORDS = {"pos": ("great", "fun", "lovely", "superb", "moving"), "neg": ("dull", "awful", "boring", "weak", "tedious")}


def write_keyword_csv(folder: pathlib.Path, train_rows: int = 480, dev_rows: int = 80, seed: int = 0) -> None:
    """`review,stars` train/dev/test csv files whose label is given by two sentiment words in the text: a task
    a tiny model learns in ~100 steps. Labels are drawn with probability 1/2, so the majority class is near 50%."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", train_rows), ("dev", dev_rows), ("test", dev_rows)):
        lines = ["review,stars"]
        for _ in range(count):
            label = "pos" if rng.random() < 0.5 else "neg"
            words = rng.sample(KEYWORDS[label], 2) + rng.sample(("film", "plot", "cast", "story"), 2)
            rng.shuffle(words)
            lines.append(f'"a {", ".join(words)} one",{label}')
        (folder / f"{split}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def majority_share(csv_file: pathlib.Path) -> float:
    """The accuracy of always answering the most common label of a csv written by `write_keyword_csv`."""
    labels = [line.rsplit(",", 1)[1] for line in csv_file.read_text(encoding="utf-8").splitlines()[1:]]
    return max(labels.count(label) for label in set(labels)) / len(labels)
