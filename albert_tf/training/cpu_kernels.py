"""Whether TensorFlow runs its oneDNN CPU kernels, and a hint for training runs where it does not.

TensorFlow 2.20's Linux x86 wheels carry oneDNN kernels (matmuls, transposes, fused ops) but use
them by default only on CPUs with AVX-512 VNNI or BF16, AVX-VNNI or AMX. On other x86 CPUs (AMD
Zen 3 and older, Intel server CPUs before Cascade Lake) they run Eigen's kernels unless the
environment variable `TF_ENABLE_ONEDNN_OPTS=1` is set before TensorFlow is imported. On such a CPU
(an AMD EPYC with AVX2, 2 cores; benchmarks/onednn_ab.py) oneDNN made the demo's albert_tiny and
ALBERT-base's training steps 1.29x and 1.25x faster and ALBERT-base's forward pass at batch 8 1.14x
faster; at batch 1 it was as fast (0.99x). Whole runs gain less: the default `albert demo` took
1,877 s against 1,986 s (1.06x; pretraining 1.05x, fine-tuning 1.06x), its fit loop's input
pipeline and evaluations sharing the two cores, with the same losses to six digits. The choice is
the whole process's, falls before TensorFlow loads and reaches the user's own TensorFlow code, and
it was measured on one CPU model, so the library does not make it: the `albert` commands that train
say, in one log line once they have finished, that it is there to be made (albert_tf/cli/main.py; a
failed run still says only its error, and the demo's two training runs say it once).
"""

from __future__ import annotations

import os
import platform

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def onednn_enabled() -> bool | None:
    """Whether this process's TensorFlow runs oneDNN kernels (None where TensorFlow cannot say)."""
    try:  # TensorFlow has no public call for this; its test utilities' IsMklEnabled is this same function.
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def onednn_label(state: bool | None) -> str:
    """"TensorFlow's oneDNN kernels on" or "... off" for an `onednn_enabled()` result; "" for None."""
    return "" if state is None else f"TensorFlow's oneDNN kernels {'on' if state else 'off'}"


def onednn_hint() -> str | None:
    """A line for a training run on a Linux x86 CPU where TensorFlow left oneDNN off by default; None
    elsewhere, where it is on, where a GPU trains, or where the user set TF_ENABLE_ONEDNN_OPTS either way."""
    import tensorflow as tf

    if ONEDNN_VARIABLE in os.environ or tf.config.list_physical_devices("GPU"):
        return None
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    if onednn_enabled() is not False:
        return None
    return (f"TensorFlow's oneDNN CPU kernels are off on this CPU (on by default only with AVX-512 VNNI/BF16, "
            f"AVX-VNNI or AMX); on an AVX2 CPU training steps ran 1.25-1.29x faster with them, whole demo runs "
            f"1.06x: set {ONEDNN_VARIABLE}=1 "
            "in the environment before the next run to use them (docs/benchmarks.md, 'oneDNN on AVX2 CPUs')")
