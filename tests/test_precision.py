"""`--dtype auto`: bfloat16 only where the CPU has it natively; the run records what was used."""

from __future__ import annotations

import pytest

from albert_tf.training import precision
from albert_tf.training.pretraining import PretrainingSettings


def _cpuinfo(tmp_path, flags: str) -> str:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: fpu sse2 avx2 {flags}\n\n")
    return str(path)


@pytest.mark.parametrize("flags, expected", [("avx512f avx512_bf16 avx512_vnni", True), ("amx_bf16 amx_tile", True),
                                             ("avx512f avx512_vnni", False), ("", False)])
def test_cpu_bfloat16_flags(tmp_path, flags, expected, monkeypatch):
    monkeypatch.setattr(precision.platform, "system", lambda: "Linux")
    assert precision.cpu_has_bfloat16(_cpuinfo(tmp_path, flags)) is expected


def test_unreadable_cpuinfo_means_no_bfloat16(tmp_path):
    assert precision.cpu_has_bfloat16(str(tmp_path / "missing")) is False


@pytest.mark.parametrize("has_bf16, expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_resolves_by_cpu_and_explicit_choices_pass_through(monkeypatch, has_bf16, expected):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: has_bf16)
    assert precision.resolve_dtype("auto") == expected
    for explicit in ("float32", "mixed_bfloat16", "mixed_float16"):
        assert precision.resolve_dtype(explicit) == explicit


def test_auto_means_float32_when_an_accelerator_is_visible(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: True)
    monkeypatch.setattr(precision.tf.config, "list_physical_devices",
                        lambda kind=None: ["/physical_device:GPU:0"] if kind == "GPU" else [])
    assert precision.resolve_dtype("auto") == "float32"


@pytest.mark.parametrize("has_bf16, expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_settings_hold_the_resolved_policy(tmp_path, monkeypatch, has_bf16, expected):
    # The settings record (and the relaunch check) must see the precision actually used, never "auto".
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: has_bf16)
    settings = PretrainingSettings(config="tiny", records=[str(tmp_path / "r.tfrecord")],
                                   output_dir=str(tmp_path / "out"), dtype="auto")
    assert settings.dtype == expected
