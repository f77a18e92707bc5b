"""`run_distillation`: train a small `AlbertClassifier` from a fine-tuned teacher on a fine-tuning task.

The data side is the fine-tuning pipeline's (`albert_tf.finetuning`): the same
task names, file layouts, tokenization, evaluation and metrics, for the
classification and regression tasks (GLUE, csv, tsv). The training side is
the training core (`albert_tf.training.trainer`: checkpoints, resume after a
kill, dev evaluation at every interval, best checkpoint, metrics.csv,
TensorBoard, curves, seeds) running `Distiller` with AdamW.

Outputs in `output_dir`: `model/` (the student preset of the best dev
checkpoint: a classifier with the teacher's tokenizer and label names, what
`albert predict` / `albert export` take), `last/`, `eval_results.json`
(student and teacher dev metrics, both models' sizes, the best and last
steps), `metrics.csv`, `curves.png`, `logs/` and, with
`cache_teacher_logits`, `teacher_logits.npy` and its fingerprint
`teacher_logits.json`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from albert_tf.backbone import INPUT_NAMES, AlbertBackbone, remat_refusal, remat_scope
from albert_tf.config import AlbertConfig
from albert_tf.finetuning.glue import GLUE_TASKS
from albert_tf.finetuning.runner import LAST_PRESET, MODEL_PRESET, TASK_NAMES, load_backbone_checkpoint, tokenizer_source
from albert_tf.io_utils import atomic_write_text
from albert_tf.length_batches import LengthTrim, predict_by_length
from albert_tf.training import trainer
from albert_tf.training.strategy import create_strategy, is_chief, worker_id

logger = logging.getLogger(__name__)

DISTILL_TASK_NAMES = (*GLUE_TASKS, "csv", "tsv")
RESULTS_FILE = trainer.RESULTS_FILE
LOGITS_FILE = "teacher_logits.npy"
LOGITS_FINGERPRINT_FILE = "teacher_logits.json"


@dataclasses.dataclass(frozen=True)
class DistillSettings:
    """Everything a distillation run needs.

    The data fields (`task` ... `labels`) and the run fields (`eval_every`,
    `seeds`, `overwrite`) mean what they mean in
    `albert_tf.finetuning.FinetuneSettings`.

    Args:
        task: a classification/regression task of `DISTILL_TASK_NAMES`.
        data_dir: the task's folder (GLUE `train.tsv`/`dev.tsv`, or `train|dev[|test].csv/.tsv`).
        output_dir: the run's folder: the student presets, results, checkpoints, the logits cache.
        teacher: the fine-tuned classifier: a preset folder from `albert finetune` (its tokenizer
            and label names are used), or a `.keras` `AlbertClassifier` (then give `spm_model`).
        spm_model: the SentencePiece model of the teacher's vocabulary; None to take the teacher preset's.
        student_config: the student's configuration, to start from random weights.
        student_init: a preset or `.keras` `AlbertBackbone` (or a model with a `backbone`) to start the
            student from.
        temperature: softmax temperature of the soft targets.
        alpha: weight of the hard-label loss; `1 - alpha` weighs the soft targets.
        hidden_state_weight: weight of the TinyBERT hidden-state loss (0 = off).
        attention_weight: weight of the TinyBERT attention-map loss (0 = off).
        attention_loss: `"mse"` or `"kl"` for the attention maps.
        cache_teacher_logits: run the teacher once over the training set and keep its logits in
            `output_dir/teacher_logits.npy`, reused by a later run on the same data and teacher.
        transfer_examples: this many more training rows, after the first `max_train_examples`, used
            without their labels: the soft term uses the teacher's logits and the hard term the
            teacher's prediction (its class, or its score for regression). Needs `max_train_examples`.
        epochs: passes over the training set.
        learning_rate: peak AdamW learning rate.
        warmup_proportion: fraction of the steps with linear warm-up (then linear decay to 0).
        batch_size: global training batch.
        eval_batch_size: prediction batch (default: `batch_size`).
        max_seq_length: tokens per sequence (default 128).
        max_train_examples: use only the first N (labelled) training examples.
        max_eval_examples: evaluate only the first N examples of each split.
        weight_decay: AdamW decoupled weight decay.
        dropout: the student's dropout before its task head.
        text_column, text_pair_column, label_column: csv/tsv layout, as `albert finetune`.
        labels: csv/tsv label strings in class order (default: the teacher preset's label names,
            else the sorted train labels).
        strategy: `tf.distribute` strategy name (see `create_strategy`).
        tpu: TPU name or address.
        dtype: `float32`, `mixed_bfloat16` or `mixed_float16` (the student's; the teacher keeps its own).
        jit_compile: XLA-compile the train step.
        remat: rematerialize the student's transformer layers in the backward
            pass (less memory, about one more forward pass of its encoder per
            step; see `albert_tf.backbone.remat_scope`). Like `jit_compile`, a
            relaunch may change it.
        seed: initialization and data-order seed.
        eval_every: steps between dev evaluations and checkpoints (default: one epoch).
        seeds: runs with seeds `seed`, `seed + 1`, ... in `output_dir/seed-<seed>/`, and a summary.
        progress: Keras and tqdm progress bars (else one line per interval).
        overwrite: discard a previous run in `output_dir` (the logits cache is kept) and start again.
    """

    task: str
    data_dir: str
    output_dir: str
    teacher: str
    spm_model: str | None = None
    student_config: AlbertConfig | None = None
    student_init: str | None = None
    temperature: float = 2.0
    alpha: float = 0.5
    hidden_state_weight: float = 0.0
    attention_weight: float = 0.0
    attention_loss: str = "mse"
    cache_teacher_logits: bool = False
    transfer_examples: int = 0
    epochs: int = 3
    learning_rate: float = 5e-5
    warmup_proportion: float = 0.1
    batch_size: int = 32
    eval_batch_size: int | None = None
    max_seq_length: int | None = None
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    weight_decay: float = 0.01
    dropout: float = 0.1
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None
    labels: tuple[str, ...] | None = None
    strategy: str = "auto"
    tpu: str | None = None
    dtype: str = "float32"
    jit_compile: bool = False
    remat: bool = False
    seed: int = 12345
    eval_every: int | None = None
    seeds: int = 1
    progress: bool = True
    overwrite: bool = False

    def __post_init__(self):
        if self.task not in DISTILL_TASK_NAMES:
            known = "a span-QA or multiple-choice task" if self.task in TASK_NAMES else "not a known task"
            raise ValueError(f"--task {self.task} is {known}; distillation supports only the classification/"
                             f"regression tasks {list(DISTILL_TASK_NAMES)}.")
        if (self.student_config is None) == (self.student_init is None):
            raise ValueError("Give exactly one of --student-config (from scratch) and --student-init (a backbone).")
        for name in ("epochs", "batch_size", "seeds"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {name}={getattr(self, name)}")
        for name in ("eval_batch_size", "max_seq_length", "max_train_examples", "max_eval_examples", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"`{name}` must be >= 1 or None. Received: {name}={value}")
        if self.transfer_examples < 0:
            raise ValueError(f"`transfer_examples` must be >= 0. Received: {self.transfer_examples}")
        if self.transfer_examples and self.max_train_examples is None:
            raise ValueError("--transfer-examples takes the train rows after the first --max-train-examples: "
                             "give --max-train-examples too.")
        trainer.check_common_settings(self)
        # Distiller checks these too, but only after the (slow) tokenization: fail fast here.
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"`alpha` must be in [0, 1] (the hard-label weight). Received: alpha={self.alpha}")
        if not self.temperature > 0.0:
            raise ValueError(f"`temperature` must be > 0. Received: temperature={self.temperature}")
        for name in ("hidden_state_weight", "attention_weight"):
            if getattr(self, name) < 0.0:
                raise ValueError(f"`{name}` must be >= 0 (0 turns that loss off). Received: {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class DistillResult:
    """What a finished run reports: the contents of `eval_results.json` (or, for `seeds > 1`, of
    `seeds_summary.json`) and where things were written.

    Attributes:
        already_finished: the folder held this finished run; nothing was trained.
    """

    results: dict[str, Any]
    output_dir: str
    already_finished: bool = False

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """The best student checkpoint's scores per evaluation split."""
        return self.results["metrics"]

    @property
    def teacher_metrics(self) -> dict[str, dict[str, float]]:
        return self.results.get("teacher_metrics", {})


@trainer.restores_dtype_policy
def run_distillation(settings: DistillSettings) -> DistillResult:
    """Distils `settings.teacher` into a new student on `settings.task`, evaluating the student on the dev
    set at every interval, and writes the best and last student presets, `eval_results.json` (student and
    teacher dev metrics) and (optionally) the teacher-logits cache. Rerunning after a kill resumes."""
    strategy = create_strategy(settings.strategy, settings.tpu)  # before any other TF op
    if settings.seeds > 1:
        return DistillResult(trainer.run_seeds(settings, lambda one: _run_one(one, strategy).results),
                             settings.output_dir)
    return _run_one(settings, strategy)


def _run_one(settings: DistillSettings, strategy: tf.distribute.Strategy) -> DistillResult:
    from albert_tf.finetuning.task_kinds import ClassificationKind
    from albert_tf.tokenizer import AlbertTokenizer

    trainer.check_global_batch(strategy, settings.batch_size)
    if not os.path.isdir(settings.data_dir):
        raise ValueError(f"Data directory not found: {settings.data_dir}")
    tokenizer = AlbertTokenizer.from_serialized_proto(*tokenizer_source(settings.spm_model, settings.teacher,
                                                                        "--teacher"))
    trainer.apply_precision_and_seed(settings)
    # Models first (cheap to check), data after: bad models fail before tokenizing a large train set.
    with strategy.scope():
        teacher = load_teacher(settings.teacher)
        with remat_scope(settings.remat):
            student_backbone = (AlbertBackbone(settings.student_config) if settings.student_init is None
                                else load_backbone_checkpoint(settings.student_init, "--student-init"))
    if settings.remat and not student_backbone.remat:
        raise ValueError(remat_refusal(student_backbone.config))
    _check_models(teacher, student_backbone.config, tokenizer, settings)
    labels = settings.labels
    if labels is None and settings.task not in GLUE_TASKS and teacher.labels:
        labels = tuple(teacher.labels)  # a csv/tsv teacher preset names its classes in order
    # Transfer rows are read as training rows, then split off in `_train`.
    read_settings = dataclasses.replace(settings, labels=labels, max_train_examples=(
        settings.max_train_examples + settings.transfer_examples if settings.transfer_examples
        else settings.max_train_examples))
    # Batches cut to their longest sequence (albert_tf.length_batches), except on TPUs: exact for the
    # classifiers, and the hidden-state and attention losses leave padding out.
    task = ClassificationKind(read_settings, tokenizer, full_length=isinstance(strategy, tf.distribute.TPUStrategy))
    run_dir = settings.output_dir if is_chief(strategy) else os.path.join(
        settings.output_dir, "workers", worker_id(strategy))  # only the chief writes the shared outputs
    record = trainer.settings_record(settings, _NOT_RECORDED, paths=("data_dir", "spm_model", "teacher",
                                                                      "student_init"))
    if settings.overwrite:
        trainer.check_input_survives_overwrite(settings.teacher, settings.output_dir, "--teacher")
    with trainer.run_folder(run_dir, "albert distill", record, overwrite=settings.overwrite,
                            extra_outputs=(MODEL_PRESET, LAST_PRESET)) as finished:
        if finished is not None:
            return DistillResult(finished, settings.output_dir, already_finished=True)
        results = _train(settings, strategy, tokenizer, task, teacher, student_backbone, run_dir)
        return DistillResult(results, settings.output_dir)


# Settings that may change between relaunches of one run: where it runs, how it shows progress.
_NOT_RECORDED = ("output_dir", "strategy", "tpu", "jit_compile", "remat", "eval_batch_size", "progress", "overwrite",
                 "seeds", "cache_teacher_logits")


def _train(settings: DistillSettings, strategy: tf.distribute.Strategy, tokenizer: Any, task: Any,
           teacher: keras.Model, student_backbone: AlbertBackbone, run_dir: str) -> dict[str, Any]:
    from albert_tf.distillation.distiller import Distiller
    from albert_tf.distillation.teacher_cache import TEACHER_LOGITS_KEY
    from albert_tf.graph_tokenizer import AlbertGraphTokenizer
    from albert_tf.preprocessor import AlbertPreprocessor
    from albert_tf.tasks import AlbertClassifier

    inputs, labels = task.load_train()
    if task.num_outputs != teacher.num_classes:
        what = "a regression score" if task.num_outputs == 1 else f"{task.num_outputs} classes"
        raise ValueError(f"The teacher {settings.teacher} has {teacher.num_classes} output(s) but --task "
                         f"{settings.task} has {what}; use a teacher fine-tuned on this task.")
    num_rows = len(labels)
    num_labelled = min(num_rows, settings.max_train_examples or num_rows)
    logits, cache_status = None, "off"
    if settings.cache_teacher_logits or num_rows > num_labelled:
        logits, cache_status = _teacher_logits(teacher, inputs, settings, run_dir, task.trim)
    if num_rows > num_labelled:
        # Transfer rows: the teacher's prediction stands in for the (unused) label.
        labels = labels.copy()
        teacher_view = logits[num_labelled:]
        labels[num_labelled:] = teacher_view[:, 0] if task.num_outputs == 1 else np.argmax(teacher_view, axis=-1)
    if logits is not None:
        inputs = {**inputs, TEACHER_LOGITS_KEY: logits}
    batches = trainer.EpochBatches((inputs, labels), settings.batch_size, settings.epochs, settings.seed,
                                   trim=task.trim)

    preprocessor = AlbertPreprocessor(AlbertGraphTokenizer(tokenizer.serialized_model_proto, name="tokenizer"),
                                      task.max_seq_length, text_pair=task.text_pair, name="preprocessor")
    with strategy.scope():
        student = AlbertClassifier(student_backbone, task.num_outputs, dropout=settings.dropout,
                                   preprocessor=preprocessor,
                                   labels=task.model_labels if task.num_outputs > 1 else None)
        distiller = Distiller(teacher, student, alpha=settings.alpha, temperature=settings.temperature,
                              hidden_state_weight=settings.hidden_state_weight,
                              attention_weight=settings.attention_weight, attention_loss=settings.attention_loss)
        distiller.compile(optimizer=trainer.adamw(settings, batches.total_steps), jit_compile=settings.jit_compile)
        # Built on the variables it trains, before a checkpoint is restored into it.
        distiller.optimizer.build(distiller._trained_variables())
    for message in task.skipped[:5]:
        logger.warning("skipped training example %s", message)

    provenance = {
        "command": "albert distill", "task": settings.task, "data_dir": os.path.abspath(settings.data_dir),
        "teacher": os.path.abspath(settings.teacher), "train_examples": num_labelled,
        "transfer_examples": num_rows - num_labelled, "train_steps": batches.total_steps,
        "epochs": settings.epochs, "seed": settings.seed,
    }
    chief = is_chief(strategy)

    def publish(folder: str, step: int, scores: dict) -> None:
        if chief:
            student.save_to_preset(os.path.join(run_dir, folder), overwrite=True,
                                   provenance={**provenance, "step": step, "dev_metrics": scores})

    loop = trainer.TrainingLoop(
        distiller, batches, run_dir, settings.eval_every or batches.steps_per_epoch,
        evaluate=lambda: task.evaluate(student, None)[0], best_metric=task.best_metric,
        publish_best=lambda step, scores: publish(MODEL_PRESET, step, scores),
        verbose=1 if settings.progress else 2,
    )
    outcome = loop.run()
    publish(LAST_PRESET, outcome.last["step"], outcome.last["scores"])

    with strategy.scope():
        best = AlbertClassifier.from_preset(os.path.join(run_dir, MODEL_PRESET))
    student_scores, prediction_files = task.evaluate(best, run_dir)
    with tempfile.TemporaryDirectory() as scratch:  # the teacher's test predictions are not wanted
        teacher_scores, _ = task.evaluate(teacher, scratch)
    sizes = {"teacher": model_size(teacher, settings.teacher),
             "student": model_size(best, os.path.join(run_dir, MODEL_PRESET))}
    sizes["compression"] = {key: sizes["teacher"][key] / sizes["student"][key] for key in sizes["student"]}
    results = {
        "task": settings.task,
        "metrics": student_scores,
        "teacher_metrics": teacher_scores,
        "best": outcome.best,
        "last": outcome.last,
        "models": sizes,
        "num_train_examples": num_labelled,
        "num_transfer_examples": num_rows - num_labelled,
        "train_steps": outcome.final_step,
        "resumed_from_step": outcome.resumed_from_step,
        "first_step_loss": _first_step_loss(distiller, batches),
        "final_train_loss": outcome.rows[-1].get("loss"),
        "teacher_logits_cache": cache_status,
        "skipped_train_examples": task.skipped,
        "prediction_files": prediction_files,
        "settings": trainer.settings_record(settings, ()),
    }
    trainer.finish_run(run_dir, results, title=f"albert distill {settings.task}")
    return results


def _first_step_loss(distiller: keras.Model, batches: trainer.EpochBatches) -> float:
    """The distillation loss of the first training batch under the final student weights (a cheap check
    that two runs on the same data and teacher trained alike)."""
    for x, y in batches.steps(0, 1):
        return float(np.mean(distiller.compute_losses(x, y)["loss"]))
    raise RuntimeError("no training batch")


def load_teacher(path: str) -> keras.Model:
    """The fine-tuned `AlbertClassifier` of the preset folder, or `.keras` file, `path` (ValueError otherwise)."""
    import albert_tf.pretrainer  # noqa: F401  (registers every albert_tf model for loading)
    from albert_tf.preset_format import is_preset, read_preset
    from albert_tf.tasks import AlbertClassifier

    if is_preset(path):
        kind = read_preset(path).kind
        if kind != AlbertClassifier.preset_kind:
            raise ValueError(f"--teacher {path} is a {kind} preset, not a classifier: pass the OUTPUT_DIR/model "
                             "written by `albert finetune` on a classification/regression task.")
        return AlbertClassifier.from_preset(path)
    if not os.path.isfile(path):
        raise ValueError(f"--teacher not found: {path} (a preset folder from albert finetune, or a .keras file)")
    try:
        loaded = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a file that is not a model
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"--teacher {path} could not be loaded as a .keras model ({reason}).") from None
    if not isinstance(loaded, AlbertClassifier):
        raise ValueError(f"--teacher {path} holds a model of type {type(loaded).__name__}, not an "
                         "AlbertClassifier: pass the OUTPUT_DIR/model preset written by `albert finetune` on a "
                         "classification/regression task.")
    return loaded


def model_size(model: keras.Model, path: str) -> dict[str, int]:
    """Parameter count, weight bytes and stored size (a `.keras` file, or all files of a preset folder)
    of `model` saved at `path`.

    `weights_bytes` compares models fairly: a `.keras` file also holds the optimizer's
    state when the model was saved compiled, and a preset its tokenizer.
    """
    weights_bytes = sum(int(np.prod(weight.shape)) * np.dtype(weight.dtype).itemsize for weight in model.weights)
    return {"parameters": int(model.count_params()), "weights_bytes": weights_bytes,
            "stored_bytes": _stored_bytes(path)}


def _stored_bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(path) for name in names)


def data_fingerprint(inputs: dict[str, np.ndarray], teacher_path: str) -> str:
    """SHA-256 of the tokenized training inputs (in order) and of the teacher's bytes (file, or preset folder):
    a cache of teacher logits is valid exactly when both are unchanged."""
    digest = hashlib.sha256()
    for name in INPUT_NAMES:
        array = np.ascontiguousarray(inputs[name], dtype=np.int32)
        digest.update(f"{name}{array.shape}".encode())
        digest.update(array.tobytes())
    digest.update(_file_sha256(teacher_path).encode())
    return digest.hexdigest()


def _file_sha256(path: str) -> str:
    """SHA-256 of a file's bytes, or of a folder's file names and bytes (sorted)."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for folder, directories, names in sorted(os.walk(path)):
            directories.sort()
            for name in sorted(names):
                file_path = os.path.join(folder, name)
                digest.update(os.path.relpath(file_path, path).encode())
                digest.update(_file_sha256(file_path).encode())
        return digest.hexdigest()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _teacher_logits(teacher: keras.Model, inputs: dict[str, np.ndarray], settings: DistillSettings, run_dir: str,
                    trim: LengthTrim | None = None) -> tuple[np.ndarray, str]:
    """The teacher's logits for every training row (batched by length with `trim`), and how they were obtained:
    `reused` (valid cache), `computed` (cache written) or `in_memory` (transfer rows, no cache asked)."""
    from albert_tf.distillation.teacher_cache import load_teacher_logits, save_teacher_logits

    fingerprint = data_fingerprint(inputs, settings.teacher)
    num_rows = len(inputs[INPUT_NAMES[0]])
    logits_path = os.path.join(run_dir, LOGITS_FILE)
    record_path = os.path.join(run_dir, LOGITS_FINGERPRINT_FILE)
    if settings.cache_teacher_logits and os.path.isfile(logits_path):
        reason = _cache_mismatch(logits_path, record_path, fingerprint, num_rows, teacher.num_classes)
        if reason is None:
            logger.info("reusing cached teacher logits %s (%d rows, fingerprint %s)", logits_path, num_rows,
                        fingerprint[:12])
            return load_teacher_logits(logits_path), "reused"
        logger.info("teacher-logits cache %s is stale (%s); recomputing", logits_path, reason)

    logits = _predict_with_progress(teacher, inputs, settings.eval_batch_size or settings.batch_size,
                                    settings.progress, trim)
    if not settings.cache_teacher_logits:
        return logits, "in_memory"
    save_teacher_logits(logits_path, logits)
    record = {"fingerprint": fingerprint, "rows": num_rows, "num_classes": int(logits.shape[1]),
              "teacher": os.path.abspath(settings.teacher), "logits_sha256": _file_sha256(logits_path)}
    # Written after the array: an interrupted run leaves a record that does not match, so a rerun recomputes.
    atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    logger.info("cached teacher logits for %d training rows in %s (fingerprint %s)", num_rows, logits_path,
                fingerprint[:12])
    return logits, "computed"


def _cache_mismatch(logits_path: str, record_path: str, fingerprint: str, num_rows: int,
                    num_classes: int) -> str | None:
    """Why the cache at `logits_path` cannot be used, or None when it can."""
    try:
        with open(record_path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return f"no readable {os.path.basename(record_path)}"
    if record.get("fingerprint") != fingerprint:
        return "the training data or the teacher changed"
    if record.get("rows") != num_rows or record.get("num_classes") != num_classes:
        return "its shape does not match"
    if record.get("logits_sha256") != _file_sha256(logits_path):
        return f"{os.path.basename(logits_path)} does not match its record"
    return None


def _predict_with_progress(model: keras.Model, inputs: dict[str, np.ndarray], batch_size: int,
                           progress: bool, trim: LengthTrim | None = None) -> np.ndarray:
    """`model`'s float32 logits for all rows (in order), under a tqdm bar; batched by length with `trim`."""
    from tqdm.auto import tqdm

    num_rows = len(inputs[INPUT_NAMES[0]])
    with tqdm(total=num_rows, desc="teacher logits", unit="ex", disable=not progress, leave=False) as bar:
        # One `predict` (one traced function); the callback only moves the bar.
        callback = keras.callbacks.LambdaCallback(
            on_predict_batch_end=lambda batch, logs: bar.update(min(batch_size, num_rows - bar.n)))
        features = {name: inputs[name] for name in INPUT_NAMES}
        if trim is None:
            logits = model.predict(features, batch_size=batch_size, verbose=0, callbacks=[callback])
        else:
            logits = predict_by_length(model, features, batch_size, trim=trim, callbacks=[callback])
    return np.asarray(logits, dtype="float32")


def _check_models(teacher: keras.Model, student_config: AlbertConfig, tokenizer: Any,
                  settings: DistillSettings) -> None:
    teacher_config = teacher.backbone.config
    student_source = settings.student_init or "--student-config"
    if student_config.vocab_size != teacher_config.vocab_size:
        raise ValueError(f"The student ({student_source}) has vocab_size {student_config.vocab_size} but the "
                         f"teacher has {teacher_config.vocab_size}; both read the same token ids, so give the "
                         "student the teacher's vocab_size.")
    if tokenizer.vocab_size > teacher_config.vocab_size:
        raise ValueError(f"The SentencePiece model {tokenizer.source} has {tokenizer.vocab_size} pieces but the "
                         f"teacher's vocab_size is {teacher_config.vocab_size}; use the teacher's vocabulary.")
    max_seq_length = settings.max_seq_length or 128
    for role, config in (("teacher", teacher_config), ("student", student_config)):
        if max_seq_length > config.max_position_embeddings:
            raise ValueError(f"--max-seq-length {max_seq_length} exceeds the {role}'s max_position_embeddings "
                             f"({config.max_position_embeddings}).")
