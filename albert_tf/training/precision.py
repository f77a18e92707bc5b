"""`--dtype auto`: bfloat16 mixed precision where it is measured faster, float32 elsewhere.

On a CPU with AVX512_BF16 or AMX-BF16 (Intel Cooper Lake / Sapphire Rapids and later, AMD Zen 4
and later), oneDNN runs bfloat16 matmuls at about twice the float32 rate, and a small model's
training step is measured 1.2x faster (whole `albert pretrain` runs 1.4x) with loss curves no worse
(benchmarks/results/small_model_step.md, benchmarks/results/bf16_curves.md). Without those
instructions bfloat16 is slower: on an AMD EPYC with AVX2 only, the tiny step took 683 ms in
mixed_bfloat16 against 570 ms in float32 (benchmarks/results/small_model_step_avx2.md), so `auto`
means float32 there.

On a GPU the answer turns on XLA (benchmarks/results/gpu_pretraining.md, ALBERT-base on an H200):
XLA-compiled, mixed_bfloat16 steps are 1.6x fp32's; without XLA they are 0.74x, the unfused casts
costing more than the faster matmuls save. So with GPUs `auto` means mixed_bfloat16 for an
XLA-compiled step (`--jit-compile`) on GPUs that compute in bfloat16 (compute capability 8.0,
Ampere, and later), float32 otherwise. With a TPU `auto` means float32: mixed_bfloat16 there is
the user's choice with `--dtype`.
"""

from __future__ import annotations

import logging
import platform

import tensorflow as tf

logger = logging.getLogger(__name__)

# CPU flags (Linux /proc/cpuinfo names) with native bfloat16 dot products.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bfloat16(cpuinfo_path: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has native bfloat16 arithmetic (read from the kernel's CPU flags; Linux x86 only)."""
    if platform.system() != "Linux":
        return False
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)
    except OSError:
        return False
    return False


# GPUs from this compute capability on (Ampere) have bfloat16 tensor cores.
BFLOAT16_GPU_COMPUTE_CAPABILITY = (8, 0)


def gpus_have_bfloat16(gpus: list) -> bool:
    """Whether every GPU in `gpus` (physical devices) has bfloat16 tensor cores."""
    for gpu in gpus:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability is None or tuple(capability) < BFLOAT16_GPU_COMPUTE_CAPABILITY:
            return False
    return bool(gpus)


def resolve_dtype(dtype: str, jit_compile: bool = False) -> str:
    """`dtype` itself, or for `auto` the policy this machine trains fastest in without loss of quality.

    Args:
        dtype: `auto` or a Keras dtype policy name.
        jit_compile: whether the train step is XLA-compiled (on a GPU, mixed precision pays only then).
    """
    if dtype != "auto":
        return dtype
    gpus = tf.config.list_physical_devices("GPU")
    if tf.config.list_physical_devices("TPU"):
        chosen, reason = "float32", "a TPU is visible; choose mixed_bfloat16 there with --dtype"
    elif gpus and not jit_compile:
        chosen, reason = "float32", "GPUs without --jit-compile: mixed precision is slower unfused"
    elif gpus:
        bfloat16 = gpus_have_bfloat16(gpus)
        chosen = "mixed_bfloat16" if bfloat16 else "float32"
        reason = "XLA on GPUs with bfloat16" if bfloat16 else "a GPU older than compute capability 8.0"
    else:
        bfloat16 = cpu_has_bfloat16()
        chosen = "mixed_bfloat16" if bfloat16 else "float32"
        reason = "the CPU has native bfloat16" if bfloat16 else "the CPU has no native bfloat16"
    # Debug, not info: a failing run says one line; the run records the policy in its settings file.
    logger.debug("--dtype auto: %s (%s)", chosen, reason)
    return chosen
