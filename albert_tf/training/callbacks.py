"""Keras callbacks for long, preemptible training runs.

Every file they write is built aside (`.tmp-*`) and published by one rename
(`albert_tf.io_utils.staged_file`), so a process killed at any moment leaves
either the previous complete file or the new complete one, never a torn one.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import re

import keras

from albert_tf.io_utils import atomic_write_text, fault_point, staged_file

logger = logging.getLogger(__name__)

BACKUP_WEIGHTS = "latest.weights.h5"
BACKUP_METADATA = "training_metadata.json"


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
            logger.error(
                "Training stopped: the loss became %s at step %d. Lower --learning-rate, raise --warmup-steps, "
                "or use float32 / mixed_bfloat16 instead of mixed_float16; the last checkpoint before this step "
                "is kept.", loss, self.failed_step,
            )


class BackupCheckpoint(keras.callbacks.Callback):
    """Saves the whole training state (model and optimizer) to `backup/latest.weights.h5`
    and `backup/training_metadata.json` at each epoch end, each by write-aside-and-rename.

    This replaces Keras' `BackupAndRestore`, which overwrites the backup in
    place: a kill during that write left a torn file that every relaunch
    failed to read. Restoring is `albert_tf.training.resume.restore_training_state`,
    which reads the step from the optimizer's own counter, so a kill between
    the two files cannot make the step and the weights disagree.
    """

    def __init__(self, directory: str):
        super().__init__()
        self.directory = directory

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        with staged_file(os.path.join(self.directory, BACKUP_WEIGHTS), fault_event="pretrain:backup-written") as path:
            self.model.save_weights(path)
        fault_point("pretrain:backup-published")
        # Keras' own format ({"epoch", "batch"}), plus the step.
        metadata = {"epoch": epoch + 1, "batch": 0, "step": step}
        atomic_write_text(os.path.join(self.directory, BACKUP_METADATA), json.dumps(metadata))


class RotatingCheckpoints(keras.callbacks.Callback):
    """Saves `ckpt-<step>.weights.h5` (model and optimizer) at each epoch end,
    keeping the newest `keep` files; writes aside and renames, so a killed
    process never leaves a truncated checkpoint under a checkpoint's name."""

    def __init__(self, directory: str, keep: int = 3):
        super().__init__()
        if keep < 1:
            raise ValueError(f"`keep` must be >= 1. Received: keep={keep}")
        self.directory = directory
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        path = os.path.join(self.directory, f"ckpt-{step}.weights.h5")
        with staged_file(path, fault_event="pretrain:checkpoint-written") as temporary:
            self.model.save_weights(temporary)
        for old in checkpoint_paths(self.directory)[:-self.keep]:
            os.remove(old)


def checkpoint_paths(directory: str) -> list[str]:
    """`ckpt-<step>.weights.h5` files in `directory`, oldest step first."""
    paths = glob.glob(os.path.join(directory, "ckpt-*.weights.h5"))
    return sorted(paths, key=checkpoint_step)


def checkpoint_step(path: str) -> int:
    """The step in a `ckpt-<step>.weights.h5` file name."""
    return int(re.search(r"ckpt-(\d+)\.weights\.h5$", path).group(1))
