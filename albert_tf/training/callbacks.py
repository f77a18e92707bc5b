"""Keras callbacks for long, preemptible training runs."""

from __future__ import annotations

import glob
import math
import os
import re

import keras


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss, saying at which step and what to try."""

    def __init__(self):
        super().__init__()
        self.failed_step: int | None = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.failed_step = int(self.model.optimizer.iterations.numpy())
            self.model.stop_training = True
            print(
                f"\nTraining stopped: the loss became {loss} at step {self.failed_step}. "
                "Lower --learning-rate, raise --warmup-steps, or use float32 / mixed_bfloat16 instead of "
                "mixed_float16; the last checkpoint before this step is kept."
            )


class RotatingCheckpoints(keras.callbacks.Callback):
    """Saves `ckpt-<step>.weights.h5` (model and optimizer) at each epoch end,
    keeping the newest `keep` files; writes through a temporary name and an
    atomic rename so a killed process never leaves a truncated checkpoint."""

    def __init__(self, directory: str, keep: int = 3):
        super().__init__()
        if keep < 1:
            raise ValueError(f"`keep` must be >= 1. Received: keep={keep}")
        self.directory = directory
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        step = int(self.model.optimizer.iterations.numpy())
        path = os.path.join(self.directory, f"ckpt-{step}.weights.h5")
        temporary = os.path.join(self.directory, f".tmp-ckpt-{step}.weights.h5")
        self.model.save_weights(temporary, overwrite=True)
        os.replace(temporary, path)
        for old in checkpoint_paths(self.directory)[:-self.keep]:
            os.remove(old)


def checkpoint_paths(directory: str) -> list[str]:
    """`ckpt-<step>.weights.h5` files in `directory`, oldest step first."""
    paths = glob.glob(os.path.join(directory, "ckpt-*.weights.h5"))
    return sorted(paths, key=lambda path: int(re.search(r"ckpt-(\d+)\.weights\.h5$", path).group(1)))
