"""configs/ablations: the paper's Table 3 and Table 4 models and their sizes.

All 12 models are counted in the default run from their variables' shapes:
the backbone is built inside a `keras.StatelessScope` that leaves every
variable uninitialised, so a 109M-parameter model costs no memory and a
fraction of a second. That count is checked against `count_params()` of
really built models (every sharing mode at a small size, one real ablation).

The README's table is this code's output: print it with

    python tests/test_ablation_configs.py
"""

from __future__ import annotations

import importlib.resources
import pathlib
import re

import keras
import numpy as np
import pytest

from albert_tf import AlbertBackbone, AlbertConfig

# The paper's figures (millions), keyed by (E, sharing): the only constants
# here. Table 3: E under all-shared and not-shared; Table 4: the four
# strategies at E = 768 and E = 128.
PAPER_MILLIONS = {
    (64, "all"): 10, (128, "all"): 12, (256, "all"): 16, (768, "all"): 31,
    (64, "none"): 87, (128, "none"): 89, (256, "none"): 93, (768, "none"): 108,
    (768, "attention"): 83, (768, "ffn"): 57,
    (128, "attention"): 64, (128, "ffn"): 38,
}
TABLE_3 = {(e, sharing) for e in (64, 128, 256, 768) for sharing in ("all", "none")}
TABLE_4 = {(e, sharing) for e in (768, 128) for sharing in ("all", "attention", "ffn", "none")}
TOLERANCE = 1_100_000  # the paper rounds to the million; ours differ by at most 1.1M (stated in the README)
ROOT = pathlib.Path(__file__).resolve().parents[1]
HEADER = "| Table | E | sharing | paper | albert_tf |"


def ablation_dir() -> pathlib.Path:
    return pathlib.Path(str(importlib.resources.files("albert_tf.configs.ablations")))


def ablation_config(embedding_size: int, sharing: str) -> AlbertConfig:
    return AlbertConfig.from_json_file(ablation_dir() / f"albert_base_e{embedding_size}_{sharing}.json")


def shape_count(config: AlbertConfig) -> int:
    """Parameters of `AlbertBackbone(config)`, summed over its variables' shapes; no value is allocated."""
    with keras.StatelessScope(initialize_variables=False):
        backbone = AlbertBackbone(config)
    count = sum(int(np.prod(variable.shape)) for variable in backbone.weights)
    del backbone
    keras.backend.clear_session()  # also forgets the uninitialised variables
    return count


def built_count(config: AlbertConfig) -> int:
    backbone = AlbertBackbone(config)
    count = backbone.count_params()
    del backbone
    keras.backend.clear_session()
    return count


def table_rows() -> list[str]:
    """The README's markdown table, computed."""
    rows = [HEADER, "|---|---|---|---|---|"]
    for key in PAPER_MILLIONS:
        tables = ", ".join(name for name, table in (("3", TABLE_3), ("4", TABLE_4)) if key in table)
        rows.append(f"| {tables} | {key[0]} | {key[1]} | {PAPER_MILLIONS[key]}M | "
                    f"{shape_count(ablation_config(*key)):,} |")
    return rows


def test_every_table_entry_has_a_file_that_differs_from_base_only_as_named():
    assert set(PAPER_MILLIONS) == TABLE_3 | TABLE_4
    files = sorted(path.name for path in ablation_dir().glob("*.json"))
    assert files == sorted(f"albert_base_e{e}_{s}.json" for e, s in PAPER_MILLIONS)
    base = AlbertConfig.from_preset("base")
    for embedding_size, sharing in PAPER_MILLIONS:
        config = ablation_config(embedding_size, sharing)
        assert config == base.replace(embedding_size=embedding_size, sharing=sharing)


@pytest.mark.parametrize("sharing", ["all", "attention", "ffn", "none"])
@pytest.mark.parametrize("embedding_size", [8, 32])  # 32 = H: no E -> H projection
def test_shape_count_equals_a_built_models_parameter_count(sharing, embedding_size):
    config = AlbertConfig(vocab_size=97, embedding_size=embedding_size, hidden_size=32, num_hidden_layers=4,
                          num_hidden_groups=2, num_attention_heads=4, intermediate_size=48,
                          max_position_embeddings=40, sharing=sharing)
    assert shape_count(config) == built_count(config)


def test_shape_count_equals_a_built_ablation_models_count():
    config = ablation_config(64, "all")  # the smallest of the 12 (9.7M): a second to build
    assert shape_count(config) == built_count(config)


@pytest.mark.parametrize("key", sorted(PAPER_MILLIONS), ids=lambda key: f"E{key[0]}-{key[1]}")
def test_ablation_model_has_the_papers_parameter_count(key):
    count = shape_count(ablation_config(*key))
    assert abs(count - PAPER_MILLIONS[key] * 1_000_000) <= TOLERANCE, f"{key}: {count:,}"


def test_published_table_is_what_the_code_counts():
    pages = [page for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
             if page.exists() and HEADER in page.read_text(encoding="utf-8")]
    if not pages:
        pytest.skip(f"no page under {ROOT} publishes the table (installed without the source tree)")
    for page in pages:
        text = page.read_text(encoding="utf-8")
        lines = text.splitlines()
        start = lines.index(HEADER)
        published = lines[start:start + 2 + len(PAPER_MILLIONS)]
        assert published == table_rows(), f"{page}: regenerate the table with python tests/test_ablation_configs.py"
        within = re.search(r"within ([\d.]+)M of the paper", text)
        assert within and float(within.group(1)) * 1_000_000 == TOLERANCE, page


# Building the 12 models for real (60M+ parameters take 5-10 s each on a
# shared CPU) confirms the shape counts at full size; slow.
@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(PAPER_MILLIONS), ids=lambda key: f"E{key[0]}-{key[1]}")
def test_built_ablation_model_has_the_shape_count(key):
    config = ablation_config(*key)
    assert built_count(config) == shape_count(config)


if __name__ == "__main__":
    print("\n".join(table_rows()))
