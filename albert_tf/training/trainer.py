"""The training core that `albert pretrain`, `albert finetune` and `albert distill` run on.

One run lives in one folder. Training is cut into intervals (a pretraining
checkpoint interval, an epoch, or `--eval-every` steps), trained by one
Keras `fit`; at the end of each, in this order:

1. the interval's training logs are kept (`interval_logs.json`),
2. the whole training state is checkpointed (`backup/` and `checkpoints/`,
   under `state/` for fine-tuning and distillation: the callbacks of
   `albert_tf.training.callbacks`, restored by `albert_tf.training.resume`),
3. the model is evaluated, when the run evaluates (a task's official dev
   metric; pretraining's held-out records),
4. when the run keeps its best model (fine-tuning, distillation) and the
   metric improved, the caller publishes the model (its output preset) and
   `best.json` records the step; pretraining's model is simply the last,
5. a row is added to `metrics.csv` and to the TensorBoard logs (`logs/`).

A relaunch restores the newest checkpoint, drops the `metrics.csv` rows after
it, redoes steps 3-5 if the kill came between 2 and 5, and continues, so
every interval has exactly one row whatever the kills. `run_folder` locks
the folder and refuses a relaunch with other settings; `finish_run` writes
`curves.png`, then the results file that marks the run finished.

The batches come from a `TrainingBatches`: `EpochBatches` (in-memory arrays:
each step reads its own batch of a fixed per-epoch order, so a resumed run
sees exactly the batches an uninterrupted one would and ends at the same
weights) or pretraining's stream of records.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import io
import json
import logging
import math
import os
import shutil
from typing import Any, Callable, Iterator, Protocol, Sequence, TypeVar

import keras
import numpy as np
import tensorflow as tf

from albert_tf.in_memory_batches import in_memory_batches
from albert_tf.io_utils import atomic_write_text, exclusive_run, remove_staging_leftovers
from albert_tf.length_batches import LengthTrim
from albert_tf.training.callbacks import BackupCheckpoint, RotatingCheckpoints, StopOnNaN
from albert_tf.training.precision import resolve_dtype
from albert_tf.training.resume import (SETTINGS_FILE, check_run_settings, check_same_command, ensure_checkpoint,
                                       restore_training_state, saved_states)

logger = logging.getLogger(__name__)

RESULTS_FILE = "eval_results.json"
METRICS_FILE = "metrics.csv"
CURVES_FILE = "curves.png"
BEST_FILE = "best.json"
INTERVAL_LOGS_FILE = "interval_logs.json"
STATE_DIR = "state"
LOGS_DIR = "logs"
SEEDS_SUMMARY_FILE = "seeds_summary.json"
DTYPES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")

Scores = dict[str, dict[str, float]]
# Draws a run's curves: (metrics.csv path, curves.png path, title) -> the PNG's path.
PlotCurves = Callable[[str, str, str], Any]


def check_global_batch(strategy: tf.distribute.Strategy, batch_size: int) -> None:
    """A global batch must split evenly across the strategy's replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"--batch-size {batch_size} is not divisible by the {replicas} replicas of the "
                         f"{type(strategy).__name__}; use a multiple of {replicas}.")


def state_folders(run_dir: str, state_dir: str = STATE_DIR) -> tuple[str, str]:
    """The backup and checkpoint folders of a run (`state_dir` "" puts them in `run_dir` itself)."""
    return os.path.join(run_dir, state_dir, "backup"), os.path.join(run_dir, state_dir, "checkpoints")


def state_callbacks(run_dir: str, keep_checkpoints: int = 2, state_dir: str = STATE_DIR
                    ) -> list[keras.callbacks.Callback]:
    """Checkpointing at every interval end: the backup and rotating checkpoints (restored by
    `albert_tf.training.resume.restore_training_state`), then a stop at the first NaN loss."""
    backup_dir, checkpoint_dir = state_folders(run_dir, state_dir)
    return [BackupCheckpoint(backup_dir), RotatingCheckpoints(checkpoint_dir, keep=keep_checkpoints), StopOnNaN()]


class TrainingBatches(Protocol):
    """Where a `TrainingLoop` takes its batches from."""

    total_steps: int  # optimizer steps of the whole run

    def steps(self, first: int, count: int) -> tf.data.Dataset:
        """The batches of steps `first` .. `first + count - 1` (a stream may give more: only `count` are read)."""


class EpochBatches:
    """The training batches of every step, each epoch in its own seeded order.

    Step `s` is batch `s % steps_per_epoch` of epoch `s // steps_per_epoch`
    (the last batch of an epoch may be short), whatever step the process
    started at: `steps(first, count)` builds exactly those batches, so a
    resumed run trains on what an uninterrupted run would.

    Args:
        arrays: the training data, any nest of arrays with the same first dimension
            (e.g. `(inputs_dict, labels)`).
        batch_size: global batch.
        epochs: passes over the data.
        seed: the order's seed (epoch `e` uses `default_rng([seed, e])`).
        trim: cuts each batch's token inputs to its longest sequence (`arrays` is then
            `(inputs, targets)` with the backbone's inputs in `inputs`); None keeps full length.
    """

    def __init__(self, arrays: Any, batch_size: int, epochs: int, seed: int, trim: LengthTrim | None = None):
        leaves = tf.nest.flatten(arrays)
        self.num_rows = len(leaves[0])
        if self.num_rows == 0:
            raise ValueError("No training examples: the training file is empty.")
        self.batch_size = batch_size
        self.steps_per_epoch = math.ceil(self.num_rows / batch_size)
        self.total_steps = self.steps_per_epoch * epochs
        order = np.concatenate([np.random.default_rng([seed, epoch]).permutation(self.num_rows)
                                for epoch in range(epochs)])
        self._order = tf.constant(order, tf.int64)
        self._tensors = tf.nest.map_structure(tf.convert_to_tensor, arrays)
        self.trim = trim

    def steps(self, first: int, count: int) -> tf.data.Dataset:
        """The batches of steps `first` .. `first + count - 1`."""
        rows, size, per_epoch = self.num_rows, self.batch_size, self.steps_per_epoch
        order, tensors, trim = self._order, self._tensors, self.trim

        def batch(step):
            epoch, index = step // per_epoch, step % per_epoch
            begin = epoch * rows + index * size
            end = tf.minimum(begin + size, (epoch + 1) * rows)
            chosen = order[begin:end]
            rows_of_step = tf.nest.map_structure(lambda tensor: tf.gather(tensor, chosen), tensors)
            if trim is None:
                return rows_of_step
            inputs, *targets = rows_of_step
            return (trim(inputs), *targets)

        return in_memory_batches(tf.data.Dataset.range(first, first + count).map(batch))


@dataclasses.dataclass(frozen=True)
class TrainingOutcome:
    """How the intervals went.

    Attributes:
        resumed_from_step: the step restored at launch (0 for a fresh run).
        final_step: the step training ended at (the requested total).
        best: `{"step", "metric", "value", "scores"}` of the best evaluation (None without `best_metric`).
        last: `{"step", "scores"}` of the last evaluation.
        rows: the rows of `metrics.csv`.
    """

    resumed_from_step: int
    final_step: int
    best: dict[str, Any] | None
    last: dict[str, Any]
    rows: list[dict[str, float]]


@dataclasses.dataclass
class TrainingLoop:
    """Trains `model` interval by interval with checkpoints, evaluation, best-model keeping and resume.

    Args:
        model: the compiled model whose `fit` trains (a task model, a `Distiller`, the pretrainer).
        batches: the training batches.
        run_dir: the run's folder.
        eval_every: steps per interval (the last interval may be shorter).
        evaluate: scores `{split: {metric: value}}` of the model's current weights, added to each
            metrics row as `<split>_<metric>` columns; None evaluates nothing.
        best_metric: `(split, metric)` that chooses the best evaluation (higher is better); None keeps
            no best (the last model is the run's model, published by the caller).
        publish_best: called with `(step, scores)` when an evaluation is the best so far;
            writes the model as the run's output.
        verbose: Keras `fit` verbosity (1 progress bar, 2 one line per interval, 0 none).
        keep_checkpoints: newest rotating checkpoints kept.
        state_dir: the folder of `backup/` and `checkpoints/` inside `run_dir` ("" for `run_dir` itself).
        index_column: also number the metrics rows 0, 1, ... in this column (pretraining's `epoch`).
    """

    model: keras.Model
    batches: TrainingBatches
    run_dir: str
    eval_every: int
    evaluate: Callable[[], Scores] | None = None
    best_metric: tuple[str, str] | None = None
    publish_best: Callable[[int, Scores], None] | None = None
    verbose: int = 2
    keep_checkpoints: int = 2
    state_dir: str = STATE_DIR
    index_column: str | None = None

    def run(self) -> TrainingOutcome:
        """Restores the newest checkpoint (if any), trains to the last step and returns the outcome."""
        total, every = self.batches.total_steps, self.eval_every
        backup_dir, checkpoint_dir = state_folders(self.run_dir, self.state_dir)
        for directory in (self.run_dir, backup_dir, checkpoint_dir):
            remove_staging_leftovers(directory)
        with self.model.distribute_strategy.scope():  # the optimizer's variables are made here
            resumed, restored_path = restore_training_state(self.model, backup_dir, checkpoint_dir)
        if resumed > total or (resumed % every and resumed != total):
            raise ValueError(f"{restored_path} holds step {resumed}, which does not end an interval of this run "
                             f"({total} steps, {every} per interval); use a new --output-dir.")
        if restored_path:
            logger.info("resuming at step %d of %d from %s", resumed, total, restored_path)
            ensure_checkpoint(restored_path, resumed, checkpoint_dir, self.keep_checkpoints)
        saved_rows = self._read_rows()
        self._rows = [row for row in saved_rows if row["step"] <= resumed]  # later ones are trained again
        self._best = self._read_best(resumed)
        self._last_scores: Scores = {}
        self._writer = tf.summary.create_file_writer(os.path.join(self.run_dir, LOGS_DIR))
        if resumed and not any(row["step"] == resumed for row in self._rows):
            # Killed after the checkpoint, before its evaluation was recorded: record it now.
            self._record(resumed, self._pending_logs(resumed))
        elif self._rows != saved_rows:
            self._write_rows()

        # One `fit` for the whole intervals, another for a shorter last one.
        whole = (total - resumed) // every * every
        for first, count in ((resumed, whole), (resumed + whole, total - resumed - whole)):
            if count:
                self._fit(first, count)
        final_step = int(self.model.optimizer.iterations.numpy())
        if final_step != total:
            raise RuntimeError(f"training stopped at step {final_step} instead of {total}")
        self._writer.close()
        last = self._rows[-1]
        return TrainingOutcome(resumed, final_step, dict(self._best) if self._best else None,
                               {"step": last["step"], "scores": self._scores_of(last)}, list(self._rows))

    def _fit(self, first: int, count: int) -> None:
        """Trains steps `first` .. `first + count - 1`, in intervals of `min(eval_every, count)` steps."""
        per_interval = min(self.eval_every, count)
        interval = first // self.eval_every
        callbacks = [_ReseedDropout(), _KeepIntervalLogs(self.run_dir),
                     *state_callbacks(self.run_dir, self.keep_checkpoints, self.state_dir), _RecordEvaluation(self)]
        stop_on_nan = next(callback for callback in callbacks if isinstance(callback, StopOnNaN))
        self.model.fit(self.batches.steps(first, count), initial_epoch=interval,
                       epochs=interval + count // per_interval, steps_per_epoch=per_interval, callbacks=callbacks,
                       shuffle=False, verbose=self.verbose)
        if stop_on_nan.failed_step is not None:
            raise ValueError(f"The loss became NaN at step {stop_on_nan.failed_step}; lower --learning-rate "
                             "or use float32 (the checkpoint before it is kept).")

    # ---------------------------------------------------------------- records
    def _record(self, step: int, train_logs: dict[str, float]) -> None:
        """Evaluates the current weights; publishes them if best; adds the metrics row."""
        scores = self.evaluate() if self.evaluate is not None else {}
        self._last_scores = scores
        shown = ", ".join(f"{s} {m} {v:.4f}" for s, values in scores.items() for m, v in values.items())
        if self.best_metric is None:
            if shown:
                logger.info("step %d: %s", step, shown)
        else:
            split, metric = self.best_metric
            value = float(scores[split][metric])
            if self._best is None or value > self._best["value"]:
                if self.publish_best is not None:
                    self.publish_best(step, scores)
                self._best = {"step": step, "metric": f"{split}_{metric}", "value": value, "scores": scores}
                atomic_write_text(os.path.join(self.run_dir, BEST_FILE), json.dumps(self._best, indent=2) + "\n")
                logger.info("step %d: %s (best so far)", step, shown)
            else:
                logger.info("step %d: %s (best: %s %.4f at step %d)", step, shown, self._best["metric"],
                            self._best["value"], self._best["step"])
        row: dict[str, float] = {"step": step}
        if self.index_column:
            row[self.index_column] = (step - 1) // self.eval_every
        row.update({name: float(value) for name, value in train_logs.items()})
        row.update({f"{s}_{m}": float(v) for s, values in scores.items() for m, v in values.items()})
        self._rows.append(row)
        self._write_rows()
        with self._writer.as_default(step=step):
            for name, value in row.items():
                if name not in ("step", self.index_column):
                    tf.summary.scalar(name, value)
        self._writer.flush()

    def _write_rows(self) -> None:
        columns: list[str] = []
        for row in self._rows:
            columns += [name for name in row if name not in columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, restval="", lineterminator="\n")
        writer.writeheader()
        for row in self._rows:
            writer.writerow(row)
        atomic_write_text(os.path.join(self.run_dir, METRICS_FILE), buffer.getvalue())

    def _read_rows(self) -> list[dict[str, float]]:
        rows = read_metrics(self.run_dir)
        if self.index_column:  # rows of an older version have only the index (a Keras CSVLogger's `epoch`)
            rows = [row if "step" in row else {"step": (int(row[self.index_column]) + 1) * self.eval_every, **row}
                    for row in rows]
        return rows

    def _scores_of(self, row: dict[str, float]) -> Scores:
        """A metrics row's scores, back in `{split: {metric: value}}` form (from the keys of the best or
        the last evaluation)."""
        template = self._best["scores"] if self._best else self._last_scores
        return {split: {metric: row[f"{split}_{metric}"] for metric in metrics if f"{split}_{metric}" in row}
                for split, metrics in template.items()}

    def _read_best(self, resumed: int) -> dict[str, Any] | None:
        path = os.path.join(self.run_dir, BEST_FILE)
        if self.best_metric is None or not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as handle:
            best = json.load(handle)
        if best["step"] > resumed:  # cannot happen with the order above; never trust a future record
            logger.warning("%s names step %d, after the restored step %d; it is replaced", path, best["step"],
                           resumed)
            return None
        return best

    def _pending_logs(self, step: int) -> dict[str, float]:
        path = os.path.join(self.run_dir, INTERVAL_LOGS_FILE)
        try:
            with open(path, encoding="utf-8") as handle:
                kept = json.load(handle)
        except (OSError, ValueError):
            return {}
        return kept.get("logs", {}) if kept.get("step") == step else {}


def _reseed_dropout(model: keras.Model, step: int) -> None:
    """Sets every dropout seed generator's counter from the step.

    Checkpoints do not hold the generators' state, so without this a resumed
    run would draw the dropout masks of step 0 again; with it, the masks of an
    interval depend only on the step it starts at, as in an uninterrupted run.
    """
    for layer in model._flatten_layers():
        for generator in getattr(layer, "_seed_generators", ()):
            state = generator.state.numpy()
            # Counters stay 1,000 draws per step apart, so intervals never reuse each other's masks.
            generator.state.assign(np.array([state[0], step * 1000], dtype=state.dtype))


def _logged_numbers(logs: dict[str, Any] | None) -> dict[str, float]:
    return {name: float(value) for name, value in (logs or {}).items() if np.ndim(value) == 0}


class _ReseedDropout(keras.callbacks.Callback):
    """At each interval's start, the dropout masks are set from the step (`_reseed_dropout`)."""

    def on_epoch_begin(self, epoch, logs=None):
        _reseed_dropout(self.model, int(self.model.optimizer.iterations.numpy()))


class _KeepIntervalLogs(keras.callbacks.Callback):
    """Keeps the interval's training logs before the checkpoint, for a relaunch that must record them."""

    def __init__(self, run_dir: str):
        super().__init__()
        self.path = os.path.join(run_dir, INTERVAL_LOGS_FILE)

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        atomic_write_text(self.path, json.dumps({"step": step, "logs": _logged_numbers(logs)}))


class _RecordEvaluation(keras.callbacks.Callback):
    """After the checkpoint: evaluate, keep the best, add the metrics row."""

    def __init__(self, loop: TrainingLoop):
        super().__init__()
        self.loop = loop

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:  # NaN: nothing worth evaluating
            return
        self.loop._record(int(self.model.optimizer.iterations.numpy()), _logged_numbers(logs))


def read_metrics(run_dir: str) -> list[dict[str, float]]:
    """The rows of `run_dir/metrics.csv` (numbers: whole-number columns such as `step` as ints), [] when there
    is none."""
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [{name: (int(value) if value.lstrip("-").isdigit() else float(value)) for name, value in row.items()
             if value not in ("", "NA", None)} for row in rows]


# ------------------------------------------------------------------ run folders
_RUN_OUTPUTS = (STATE_DIR, LOGS_DIR, METRICS_FILE, CURVES_FILE, BEST_FILE, INTERVAL_LOGS_FILE, RESULTS_FILE,
                SETTINGS_FILE)


def check_input_survives_overwrite(path: str | None, output_dir: str, option: str) -> None:
    """An input inside the output folder would be deleted by `--overwrite` before it is read: refuse."""
    if path is None:
        return
    inside = os.path.commonpath([os.path.realpath(path), os.path.realpath(output_dir)]) == os.path.realpath(output_dir)
    if inside:
        raise ValueError(f"{option} {path} lies inside --output-dir {output_dir}, whose previous run --overwrite "
                         f"deletes; copy it elsewhere first, or choose another --output-dir.")


_NEW_RUN_ALTERNATIVES = "use a new --output-dir, or pass --overwrite to discard that run"


@contextlib.contextmanager
def run_folder(run_dir: str, command: str, settings: dict[str, Any], *, overwrite: bool = False,
               extra_outputs: Sequence[str] = (), state_dir: str = STATE_DIR, results_file: str = RESULTS_FILE,
               alternatives: str = _NEW_RUN_ALTERNATIVES) -> Iterator[dict[str, Any] | None]:
    """Opens `run_dir` for one run of `command` (locked for the block).

    Yields the results (`results_file`, written last by `finish_run`) of a run
    that already finished there with the same settings, else None.
    `overwrite` first deletes a previous run's outputs (`_RUN_OUTPUTS` and
    `extra_outputs`); otherwise a folder holding a run with other settings is
    refused, naming each changed setting and then the `alternatives`. A new
    folder whose run fails before its first checkpoint is removed again.

    Args:
        state_dir: where the run's `backup/` and `checkpoints/` are (see `TrainingLoop`).
    """
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ValueError(f"--output-dir {run_dir} is a file; give a folder (new, or a run to resume).")
    created = not os.path.exists(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    try:
        if not os.access(run_dir, os.W_OK | os.X_OK):
            raise PermissionError(13, "permission denied (the output folder is not writable)", run_dir)
        with exclusive_run(run_dir, command):
            check_same_command(run_dir, command)  # before --overwrite deletes anything
            if overwrite:
                for name in (*_RUN_OUTPUTS, *extra_outputs):
                    path = os.path.join(run_dir, name)
                    if os.path.isdir(path):
                        shutil.rmtree(path)
                    elif os.path.exists(path):
                        os.remove(path)
            results_path = os.path.join(run_dir, results_file)
            has_state = os.path.exists(results_path) or bool(saved_states(*state_folders(run_dir, state_dir)))
            check_run_settings(run_dir, settings, has_state, command=command, alternatives=alternatives)
            finished = None
            if os.path.exists(results_path):
                with open(results_path, encoding="utf-8") as handle:
                    finished = json.load(handle)
                logger.debug("%s holds a finished run with these settings (%s)", run_dir, results_file)
            yield finished
    except BaseException:
        if created and not saved_states(*state_folders(run_dir, state_dir)):
            shutil.rmtree(run_dir, ignore_errors=True)  # a new run that failed before its first checkpoint
        raise


def write_curves(run_dir: str, title: str, plot: PlotCurves | None = None) -> str | None:
    """`curves.png` from `metrics.csv`, drawn by `plot`; by default the training losses (left) and the dev
    metrics (right) against the step."""
    from albert_tf.training.plots import plot_metric_curves

    rows = read_metrics(run_dir)
    if not rows:
        return None
    metrics_path, curves_path = os.path.join(run_dir, METRICS_FILE), os.path.join(run_dir, CURVES_FILE)
    if plot is not None:
        return plot(metrics_path, curves_path, title)
    columns = list(rows[-1])
    # Evaluation columns are named `<split>_<metric>`, and every split is dev* or test*.
    evaluated = [name for name in columns if name.startswith(("dev", "test"))]
    losses = [name for name in columns if name.endswith("loss") and name not in evaluated]
    return plot_metric_curves(metrics_path, curves_path, left=losses, right=evaluated, title=title)


# ----------------------------------------------------------------------- seeds
def seed_run_dir(output_dir: str, seed: int) -> str:
    """The folder of one seed's run in a `--seeds N` run."""
    return os.path.join(output_dir, f"seed-{seed}")


def summarize_seeds(results: Sequence[dict[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    """Mean, sample standard deviation (n - 1), min and max of every dev metric over the runs.

    Args:
        results: each run's `eval_results.json` contents (its `metrics`: the best model's scores).
        seeds: the runs' seeds, in the same order.
    """
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for split, metrics in results[0]["metrics"].items():
        for metric in metrics:
            values = [float(result["metrics"][split][metric]) for result in results]
            summary.setdefault(split, {})[metric] = {
                "mean": float(np.mean(values)),
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                "min": float(np.min(values)), "max": float(np.max(values)), "values": values,
            }
    return {"seeds": list(seeds), "runs": [f"seed-{seed}" for seed in seeds], "metrics": summary,
            "std": "sample standard deviation (n - 1)"}


def run_seeds(settings: Any, run_one: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Runs `run_one` for seeds `settings.seed` .. `settings.seed + settings.seeds - 1`, each in its own
    `seed-<seed>/` folder of `settings.output_dir`, and writes `seeds_summary.json` there.

    Each seed's run resumes or is skipped on its own, so a killed `--seeds` run continues where it stopped.
    """
    seeds = [settings.seed + offset for offset in range(settings.seeds)]
    results = []
    for seed in seeds:
        logger.info("seed %d (%d of %d)", seed, len(results) + 1, len(seeds))
        results.append(run_one(dataclasses.replace(settings, seed=seed, seeds=1,
                                                   output_dir=seed_run_dir(settings.output_dir, seed))))
    summary = summarize_seeds(results, seeds)
    atomic_write_text(os.path.join(settings.output_dir, SEEDS_SUMMARY_FILE), json.dumps(summary, indent=2) + "\n")
    return summary


# ------------------------------------------------------- shared run plumbing
def check_common_settings(settings: Any) -> None:
    """Checks the fields fine-tuning and distillation share (learning rate, warm-up, dropout, dtype)."""
    if not 0.0 <= settings.dropout < 1.0:
        raise ValueError(f"--dropout must be in [0, 1) (the fraction of units dropped). Received: {settings.dropout}")
    if not 0.0 <= settings.warmup_proportion <= 1.0:
        raise ValueError(f"`warmup_proportion` must be in [0, 1]. Received: {settings.warmup_proportion}")
    if settings.learning_rate <= 0:
        raise ValueError(f"`learning_rate` must be positive. Received: learning_rate={settings.learning_rate}")
    if settings.dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {DTYPES}. Received: dtype={settings.dtype!r}")
    resolve_settings_dtype(settings)


def apply_precision_and_seed(settings: Any) -> None:
    """Sets the run's dtype policy (`settings.dtype`, already resolved from `auto`) and global seed,
    once, before any model is built: the same for pretraining, fine-tuning and distillation. The run
    function is decorated with `restores_dtype_policy`, so the policy is the run's only."""
    keras.config.set_dtype_policy(settings.dtype)
    keras.utils.set_random_seed(settings.seed)


Run = TypeVar("Run", bound=Callable[..., Any])


def restores_dtype_policy(run: Run) -> Run:
    """Makes `run` give Keras' global dtype policy back as it found it, when it returns or raises.

    A run sets the policy for the models it builds (`apply_precision_and_seed`); without this, the
    caller's next model would be built in the run's precision: the demo, having fine-tuned in
    mixed_bfloat16, would export a bfloat16 graph that the TFLite converter refuses.
    """

    @functools.wraps(run)
    def run_in_its_own_policy(*args: Any, **kwargs: Any) -> Any:
        callers_policy = keras.config.dtype_policy()
        try:
            return run(*args, **kwargs)
        finally:
            keras.config.set_dtype_policy(callers_policy)

    return run_in_its_own_policy  # type: ignore[return-value]


def resolve_settings_dtype(settings: Any) -> None:
    """Replaces `auto` in a (frozen) settings dataclass by the policy it means on this machine, so that
    the run records, and a relaunch compares, the precision actually used."""
    object.__setattr__(settings, "dtype", resolve_dtype(settings.dtype, settings.jit_compile))


def adamw(settings: Any, total_steps: int) -> keras.optimizers.Optimizer:
    """AdamW with linear warm-up (`settings.warmup_proportion` of `total_steps`) and linear decay to 0."""
    from albert_tf.optimization import create_optimizer

    return create_optimizer("adamw", learning_rate=settings.learning_rate,
                            warmup_steps=int(settings.warmup_proportion * total_steps), total_steps=total_steps,
                            weight_decay=settings.weight_decay)


def settings_record(settings: Any, not_recorded: Sequence[str], paths: Sequence[str] = ()) -> dict[str, Any]:
    """The settings a relaunch must keep, as JSON values: every dataclass field but `not_recorded`,
    configurations as dicts, and the `paths` fields made absolute."""
    record = {}
    for field in dataclasses.fields(settings):
        if field.name in not_recorded:
            continue
        value = getattr(settings, field.name)
        if hasattr(value, "to_dict"):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = list(value)
        elif field.name in paths and value is not None:
            value = os.path.abspath(value)
        record[field.name] = value
    return record


def finish_run(run_dir: str, results: dict[str, Any], title: str, *, results_file: str = RESULTS_FILE,
               plot: PlotCurves | None = None) -> None:
    """Writes the curves (`write_curves`), then `results` as `results_file`: last, so that it marks a
    finished run."""
    try:
        write_curves(run_dir, title, plot)
    except (ImportError, RuntimeError, ValueError, KeyError) as error:  # a missing plot never fails a run
        logger.warning("could not plot %s: %s", CURVES_FILE, error)
    atomic_write_text(os.path.join(run_dir, results_file), json.dumps(results, indent=2) + "\n")
