"""configs/ablations: the paper's Table 3 and Table 4 models and their sizes."""

from __future__ import annotations

import importlib.resources
import pathlib

import keras
import pytest

from albert_tf import AlbertBackbone, AlbertConfig

# Paper figures (millions), keyed by (E, sharing). Table 3: E under all-shared
# and not-shared; Table 4: the four strategies at E = 768 and E = 128.
PAPER_MILLIONS = {
    (64, "all"): 10, (128, "all"): 12, (256, "all"): 16, (768, "all"): 31,
    (64, "none"): 87, (128, "none"): 89, (256, "none"): 93, (768, "none"): 108,
    (768, "attention"): 83, (768, "ffn"): 57,
    (128, "attention"): 64, (128, "ffn"): 38,
}
# Exact backbone counts of these files (pooler included), for the README.
EXACT = {
    (64, "all"): 9_681_408, (128, "all"): 11_683_584, (256, "all"): 15_687_936, (768, "all"): 31_114_752,
    (64, "none"): 87_648_000, (128, "none"): 89_650_176, (256, "none"): 93_654_528, (768, "none"): 109_081_344,
    (768, "attention"): 83_078_400, (768, "ffn"): 57_117_696,
    (128, "attention"): 63_647_232, (128, "ffn"): 37_686_528,
}
TOLERANCE = 1_200_000


def ablation_dir() -> pathlib.Path:
    return pathlib.Path(str(importlib.resources.files("albert_tf.configs.ablations")))


def ablation_config(embedding_size: int, sharing: str) -> AlbertConfig:
    return AlbertConfig.from_json_file(ablation_dir() / f"albert_base_e{embedding_size}_{sharing}.json")


def test_every_table_entry_has_a_file_that_differs_from_base_only_as_named():
    files = sorted(path.name for path in ablation_dir().glob("*.json"))
    assert files == sorted(f"albert_base_e{e}_{s}.json" for e, s in PAPER_MILLIONS)
    base = AlbertConfig.from_preset("base")
    for embedding_size, sharing in PAPER_MILLIONS:
        config = ablation_config(embedding_size, sharing)
        assert config == base.replace(embedding_size=embedding_size, sharing=sharing)


def test_exact_counts_agree_with_the_paper():
    for key, exact in EXACT.items():
        assert abs(exact - PAPER_MILLIONS[key] * 1_000_000) <= TOLERANCE, key


# Building a model of 60M+ parameters takes 5-10 s on a shared CPU: those are
# marked slow (run them with -m slow); the smaller ones run by default.
@pytest.mark.parametrize("key", [
    pytest.param(key, id=f"E{key[0]}-{key[1]}", marks=[pytest.mark.slow] if PAPER_MILLIONS[key] > 60 else [])
    for key in sorted(PAPER_MILLIONS)
])
def test_built_model_has_the_paper_parameter_count(key):
    backbone = AlbertBackbone(ablation_config(*key))
    count = backbone.count_params()
    del backbone
    keras.backend.clear_session()
    assert count == EXACT[key]
    assert abs(count - PAPER_MILLIONS[key] * 1_000_000) <= TOLERANCE
