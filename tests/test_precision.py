"""`--dtype auto`: bfloat16 where the CPU has it natively or XLA runs on a bfloat16 GPU; the run records what was used."""

from __future__ import annotations

import pytest

from albert_tf.training import precision
from albert_tf.training.pretraining import PretrainingSettings
from conftest import subcommand_default


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


def _visible(monkeypatch, gpu_capabilities=(), tpus=0):
    """Makes TensorFlow report GPUs of the given compute capabilities (and `tpus` TPUs)."""
    gpus = [f"/physical_device:GPU:{index}" for index in range(len(gpu_capabilities))]
    devices = {"GPU": gpus, "TPU": [f"/physical_device:TPU:{index}" for index in range(tpus)]}
    monkeypatch.setattr(precision.tf.config, "list_physical_devices", lambda kind=None: devices.get(kind, []))
    details = dict(zip(gpus, gpu_capabilities))
    monkeypatch.setattr(precision.tf.config.experimental, "get_device_details",
                        lambda device: {"compute_capability": details[device]} if details[device] else {})


@pytest.mark.parametrize("capabilities, jit_compile, expected", [
    ([(9, 0)], True, "mixed_bfloat16"),               # Hopper, XLA: measured 1.6x fp32
    ([(8, 0), (8, 6)], True, "mixed_bfloat16"),        # Ampere
    ([(9, 0)], False, "float32"),                      # unfused mixed precision measured slower (0.74x)
    ([(7, 5)], True, "float32"),                       # Turing: no bfloat16 tensor cores
    ([(9, 0), (7, 0)], True, "float32"),               # one old GPU decides for all
    ([None], True, "float32"),                         # capability unknown
])
def test_auto_on_gpus_means_bfloat16_only_for_xla_on_ampere_or_later(monkeypatch, capabilities, jit_compile,
                                                                      expected):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: False)
    _visible(monkeypatch, capabilities)
    assert precision.resolve_dtype("auto", jit_compile=jit_compile) == expected
    assert precision.resolve_dtype("mixed_float16", jit_compile=jit_compile) == "mixed_float16"


def test_auto_means_float32_when_a_tpu_is_visible(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: True)
    _visible(monkeypatch, tpus=8)
    assert precision.resolve_dtype("auto", jit_compile=True) == "float32"


def test_settings_resolve_auto_with_their_own_jit_compile(tmp_path, monkeypatch):
    _visible(monkeypatch, [(9, 0)])
    common = dict(config="tiny", records=[str(tmp_path / "r.tfrecord")], output_dir=str(tmp_path / "out"),
                  dtype="auto")
    assert PretrainingSettings(**common, jit_compile=True).dtype == "mixed_bfloat16"
    assert PretrainingSettings(**common).dtype == "float32"


@pytest.mark.parametrize("has_bf16, expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_settings_hold_the_resolved_policy(tmp_path, monkeypatch, has_bf16, expected):
    # The settings record (and the relaunch check) must see the precision actually used, never "auto".
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: has_bf16)
    settings = PretrainingSettings(config="tiny", records=[str(tmp_path / "r.tfrecord")],
                                   output_dir=str(tmp_path / "out"), dtype="auto")
    assert settings.dtype == expected


def test_pretrain_defaults_to_auto_while_finetune_and_distill_stay_float32():
    # `albert pretrain` picks bfloat16 where it was measured faster at equal curves; fine-tuning and
    # distillation curves were never compared in bfloat16, so those commands keep float32 unless asked.
    assert subcommand_default("pretrain", "dtype") == "auto"
    for command in ("finetune", "distill"):
        assert subcommand_default(command, "dtype") == "float32", command


def test_a_run_gives_the_callers_dtype_policy_back_when_it_returns_or_raises():
    import keras

    from albert_tf.training.trainer import restores_dtype_policy

    @restores_dtype_policy
    def run(fail: bool) -> str:
        keras.config.set_dtype_policy("mixed_bfloat16")  # as apply_precision_and_seed does
        if fail:
            raise ValueError("bad input")
        return keras.config.dtype_policy().name

    keras.config.set_dtype_policy("float32")
    try:
        assert run(fail=False) == "mixed_bfloat16"
        assert keras.config.dtype_policy().name == "float32"
        with pytest.raises(ValueError, match="bad input"):
            run(fail=True)
        assert keras.config.dtype_policy().name == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


def test_pretraining_fine_tuning_and_distillation_runs_restore_the_dtype_policy():
    # The demo exports after fine-tuning in its own precision: a run leaking mixed_bfloat16 made the export a
    # bfloat16 graph, which the TFLite converter refuses.
    from albert_tf.distillation.runner import run_distillation
    from albert_tf.finetuning.runner import run_finetuning
    from albert_tf.training.pretraining import run_pretraining

    for run in (run_pretraining, run_finetuning, run_distillation):
        assert getattr(run, "__wrapped__", None) is not None, run.__name__
        assert run.__code__.co_name == "run_in_its_own_policy", run.__name__
