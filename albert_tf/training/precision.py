"""`--dtype auto`: bfloat16 mixed precision where the CPU computes in bfloat16, float32 elsewhere.

On a CPU with AVX512_BF16 or AMX-BF16 (Intel Cooper Lake / Sapphire Rapids and later, AMD Zen 4
and later), oneDNN runs bfloat16 matmuls at about twice the float32 rate, and a small model's
training step is measured 1.2x faster (whole `albert pretrain` runs 1.4x) with loss curves no worse
(benchmarks/results/small_model_step.md, benchmarks/results/bf16_curves.md). Without those
instructions bfloat16 is emulated and slower, so `auto` means float32 there. With an accelerator
visible `auto` also means float32: mixed_float16 (GPU) and mixed_bfloat16 (TPU) are a choice the
user makes with `--dtype`.
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


def resolve_dtype(dtype: str) -> str:
    """`dtype` itself, or for `auto` the policy this machine trains fastest in without loss of quality."""
    if dtype != "auto":
        return dtype
    accelerators = tf.config.list_physical_devices("GPU") + tf.config.list_physical_devices("TPU")
    chosen = "mixed_bfloat16" if not accelerators and cpu_has_bfloat16() else "float32"
    logger.info("--dtype auto: %s (%s)", chosen,
                "an accelerator is visible" if accelerators else
                "the CPU has native bfloat16" if chosen == "mixed_bfloat16" else "the CPU has no native bfloat16")
    return chosen
