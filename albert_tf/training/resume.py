"""What a relaunched training run (pretraining, fine-tuning, distillation) resumes from, and the settings it
must keep.

Two rules make "rerun the same command" safe:

* **One settings record.** The first run writes `run_settings.json`; every
  relaunch compares its own settings with it and refuses, naming each changed
  setting, when they differ. (Another `--steps-per-checkpoint` used to end a
  run early with exit code 0; another config failed deep inside Keras.)
* **Newest intact state wins.** The backup (`backup/latest.weights.h5`) and
  then the rotating checkpoints (`checkpoints/ckpt-<step>.weights.h5`,
  newest first) are tried in turn; an unreadable one is skipped with a
  warning. The step comes from the optimizer's counter inside the file.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Any

import keras

from albert_tf.io_utils import InputFileError, atomic_write_text, corrupt_data_errors, first_line, staged_file
from albert_tf.training.callbacks import BACKUP_WEIGHTS, checkpoint_paths

logger = logging.getLogger(__name__)

SETTINGS_FILE = "run_settings.json"


def saved_states(backup_dir: str, checkpoint_dir: str) -> list[str]:
    """Files a relaunch may restore from, in the order they are tried."""
    candidates = []
    backup = os.path.join(backup_dir, BACKUP_WEIGHTS)
    if os.path.exists(backup):
        candidates.append(backup)
    candidates.extend(reversed(checkpoint_paths(checkpoint_dir)))
    return candidates


def restore_training_state(model: keras.Model, backup_dir: str, checkpoint_dir: str) -> tuple[int, str | None]:
    """Loads the newest readable saved state into `model` (weights and optimizer).

    Returns:
        (step, path): the optimizer step restored and the file it came from;
        (0, None) when nothing was saved yet.

    Raises:
        InputFileError: states exist but none can be read.
    """
    candidates = saved_states(backup_dir, checkpoint_dir)
    if not candidates:
        return 0, None
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    failures = []
    for path in candidates:
        try:
            model.load_weights(path)
        except (ValueError, KeyError, *corrupt_data_errors()) as error:
            failures.append(f"{path} ({first_line(str(error)) or type(error).__name__})")
            # Said once below: in the warning of the state that loads, or in the error when none does.
            logger.debug("cannot restore from %s (%s); trying an older saved state", path, first_line(str(error)))
            continue
        step = int(model.optimizer.iterations.numpy())
        if failures:
            logger.warning("resuming from %s at step %d instead of the unreadable %s", path, step,
                           "; ".join(failures))
        return step, path
    raise InputFileError(
        f"No saved training state can be read ({'; '.join(failures)}). Delete the output folder to start over, "
        "or restore the files from a copy."
    )


def ensure_checkpoint(restored_path: str | None, step: int, checkpoint_dir: str, keep: int) -> None:
    """Copies a state restored from the backup to `checkpoints/ckpt-<step>.weights.h5` when
    the kill came before that checkpoint was written, so the newest step is never only in the backup."""
    if restored_path is None or step == 0:
        return
    target = os.path.join(checkpoint_dir, f"ckpt-{step}.weights.h5")
    if os.path.exists(target):
        return
    with staged_file(target) as temporary:
        shutil.copyfile(restored_path, temporary)
    for old in checkpoint_paths(checkpoint_dir)[:-keep]:
        os.remove(old)


def check_run_settings(directory: str, settings: dict[str, Any], has_state: bool, *, command: str,
                       alternatives: str) -> None:
    """Refuses to resume a run in `directory` with settings other than its recorded ones.

    Writes the record when the folder holds no training state yet (a fresh
    run, or one killed before its first checkpoint, may still change settings).

    Args:
        directory: the run's folder.
        settings: JSON-serializable settings that must stay the same across
            relaunches, keyed by setting name (`steps_per_checkpoint`, ...).
        has_state: whether the folder holds checkpoints or final outputs.
        command: the command line's name, for the record and the refusal.
        alternatives: the refusal's other ways out, after "Rerun with the recorded settings to resume it, "
            (e.g. "use a new --output-dir").

    Raises:
        ValueError: the record names another command (before anything is written), or other settings.
    """
    path = os.path.join(directory, SETTINGS_FILE)
    settings = json.loads(json.dumps(settings))  # tuples -> lists, as they come back from the file
    check_same_command(directory, command)  # whatever `has_state` says: each command sees only its own state
    _, recorded = _read(path)
    if recorded is None or not has_state:
        if has_state:
            logger.warning("%s holds a run without %s (an older version); recording the current settings",
                           directory, SETTINGS_FILE)
        atomic_write_text(path, json.dumps({"command": command, "settings": settings}, indent=2) + "\n")
        return
    changes = describe_changes(recorded, settings)
    if changes:
        raise ValueError(
            f"{directory} holds an `{command}` run started with other settings: {'; '.join(changes)} "
            f"(recorded in {path}). Rerun with the recorded settings to resume it, {alternatives}."
        )


def check_same_command(directory: str, command: str) -> None:
    """Refuses `directory` when its settings record names another command than `command`.

    Each command looks only for its own state and `--overwrite` clears only its own outputs, so a
    pretraining run in a fine-tuning folder would otherwise replace that run's preset beside its other files.
    """
    path = os.path.join(directory, SETTINGS_FILE)
    recorded_command, _ = _read(path)
    if recorded_command is not None and recorded_command != command:
        raise ValueError(
            f"{directory} holds an `{recorded_command}` run (recorded in {path}), not an `{command}` one; "
            "use a new --output-dir."
        )


def describe_changes(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """`--flag recorded -> current` for each setting that differs (config fields listed one by one)."""
    changes = []
    for name in sorted(set(recorded) | set(current)):
        old, new = recorded.get(name), current.get(name)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            fields = [f"{key} {old.get(key)!r} -> {new.get(key)!r}" for key in sorted(set(old) | set(new))
                      if old.get(key) != new.get(key)]
            changes.append(f"--{name.replace('_', '-')} ({', '.join(fields)})")
        else:
            changes.append(f"--{name.replace('_', '-')} {_short(old)} -> {_short(new)}")
    return changes


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _read(path: str) -> tuple[str | None, dict[str, Any] | None]:
    """(command, settings) of the record at `path`; (None, None) when there is none."""
    if not os.path.exists(path):
        return None, None
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
        command = content.get("command")
        if command is not None and not isinstance(command, str):
            raise TypeError(f"'command' is {type(command).__name__}, not a string")
        return command, dict(content["settings"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputFileError(
            f"{path} is not a readable settings record ({first_line(str(error))}); delete it to record the "
            "current settings."
        ) from None
