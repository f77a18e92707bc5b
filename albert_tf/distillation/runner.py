"""`run_distillation`: train a small `AlbertClassifier` from a fine-tuned teacher on a fine-tuning task.

The data side is the fine-tuning pipeline's (`albert_tf.finetuning`): the same
task names, file layouts, tokenization, evaluation and metrics, for the
classification and regression tasks (GLUE, csv, tsv). The training side is
`Distiller` with AdamW and linear warm-up/decay, as `albert finetune`.

Outputs in `output_dir`, each written atomically: `student.keras` (a plain
`AlbertClassifier`, loadable and exportable as any fine-tuned model),
`student_backbone.keras`, `albert_config.json` (the student's),
`eval_results.json` (student and teacher dev metrics, both models' sizes)
and, with `cache_teacher_logits`, `teacher_logits.npy` and its fingerprint
`teacher_logits.json`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from albert_tf.backbone import INPUT_NAMES, AlbertBackbone
from albert_tf.config import AlbertConfig
from albert_tf.finetuning.glue import GLUE_TASKS
from albert_tf.finetuning.runner import RESULTS_FILE, TASK_NAMES, load_backbone_checkpoint, save_model_atomically
from albert_tf.io_utils import atomic_write_text
from albert_tf.training.pretraining import DTYPES
from albert_tf.training.strategy import create_strategy, is_chief

DISTILL_TASK_NAMES = (*GLUE_TASKS, "csv", "tsv")
STUDENT_FILE = "student.keras"
STUDENT_BACKBONE_FILE = "student_backbone.keras"
LOGITS_FILE = "teacher_logits.npy"
LOGITS_FINGERPRINT_FILE = "teacher_logits.json"


@dataclasses.dataclass(frozen=True)
class DistillSettings:
    """Everything a distillation run needs.

    The data fields (`task` ... `labels`) mean what they mean in
    `albert_tf.finetuning.FinetuneSettings`.

    Args:
        task: a classification/regression task of `DISTILL_TASK_NAMES`.
        data_dir: the task's folder (GLUE `train.tsv`/`dev.tsv`, or `train|dev[|test].csv/.tsv`).
        output_dir: where the student, results and the logits cache go.
        spm_model: the SentencePiece model of the teacher's (and student's) vocabulary.
        teacher: a `.keras` fine-tuned `AlbertClassifier` (e.g. `albert finetune`'s `model.keras`).
        student_config: the student's configuration, to start from random weights.
        student_init: a `.keras` `AlbertBackbone` (or a model with a `backbone`) to start the student from.
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
        text_column, text_pair_column, label_column, labels: csv/tsv layout, as `albert finetune`.
        strategy: `tf.distribute` strategy name (see `create_strategy`).
        tpu: TPU name or address.
        dtype: `float32`, `mixed_bfloat16` or `mixed_float16` (the student's; the teacher keeps its own).
        jit_compile: XLA-compile the train step.
        seed: initialization and shuffling seed.
        progress: Keras and tqdm progress bars (else one line per epoch).
    """

    task: str
    data_dir: str
    output_dir: str
    spm_model: str
    teacher: str
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
    seed: int = 12345
    progress: bool = True

    def __post_init__(self):
        if self.task not in DISTILL_TASK_NAMES:
            known = "a span-QA or multiple-choice task" if self.task in TASK_NAMES else "not a known task"
            raise ValueError(f"--task {self.task} is {known}; distillation supports only the classification/"
                             f"regression tasks {list(DISTILL_TASK_NAMES)}.")
        if (self.student_config is None) == (self.student_init is None):
            raise ValueError("Give exactly one of --student-config (from scratch) and --student-init (a backbone).")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {name}={getattr(self, name)}")
        for name in ("eval_batch_size", "max_seq_length", "max_train_examples", "max_eval_examples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"`{name}` must be >= 1 or None. Received: {name}={value}")
        if self.transfer_examples < 0:
            raise ValueError(f"`transfer_examples` must be >= 0. Received: {self.transfer_examples}")
        if self.transfer_examples and self.max_train_examples is None:
            raise ValueError("--transfer-examples takes the train rows after the first --max-train-examples: "
                             "give --max-train-examples too.")
        if not 0.0 <= self.warmup_proportion <= 1.0:
            raise ValueError(f"`warmup_proportion` must be in [0, 1]. Received: {self.warmup_proportion}")
        if self.learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate}")
        if self.dtype not in DTYPES:
            raise ValueError(f"`dtype` must be one of {DTYPES}. Received: dtype={self.dtype!r}")
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
    """What a finished run reports: the contents of `eval_results.json` and where things were written."""

    results: dict[str, Any]
    output_dir: str

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        """The student's scores per evaluation split."""
        return self.results["metrics"]

    @property
    def teacher_metrics(self) -> dict[str, dict[str, float]]:
        return self.results["teacher_metrics"]


class _FirstStepLoss(keras.callbacks.Callback):
    """Keeps the loss of the very first training step (a cheap check that reruns train the same)."""

    def __init__(self):
        super().__init__()
        self.value: float | None = None

    def on_train_batch_end(self, batch, logs=None):
        if self.value is None and logs and "loss" in logs:
            self.value = float(logs["loss"])


def run_distillation(settings: DistillSettings) -> DistillResult:
    """Distils `settings.teacher` into a new student on `settings.task`, evaluates both on the dev set(s)
    and writes the student, `eval_results.json` and (optionally) the teacher-logits cache."""
    from albert_tf.distillation.distiller import Distiller
    from albert_tf.distillation.teacher_cache import with_teacher_logits
    from albert_tf.finetuning.task_kinds import ClassificationKind
    from albert_tf.optimization import create_optimizer
    from albert_tf.tasks import AlbertClassifier
    from albert_tf.tokenizer import AlbertTokenizer

    strategy = create_strategy(settings.strategy, settings.tpu)  # before any other TF op
    replicas = strategy.num_replicas_in_sync
    if settings.batch_size % replicas:
        raise ValueError(f"--batch-size {settings.batch_size} is not divisible by the {replicas} replicas of "
                         f"the {type(strategy).__name__}; use a multiple of {replicas}.")
    if not os.path.isdir(settings.data_dir):
        raise ValueError(f"Data directory not found: {settings.data_dir}")
    tokenizer = AlbertTokenizer(settings.spm_model)
    # Transfer rows are read as training rows, then split off below.
    read_settings = settings if not settings.transfer_examples else dataclasses.replace(
        settings, max_train_examples=settings.max_train_examples + settings.transfer_examples)
    task = ClassificationKind(read_settings, tokenizer)
    keras.config.set_dtype_policy(settings.dtype)
    keras.utils.set_random_seed(settings.seed)

    # Models first (cheap to check), data after: bad models fail before tokenizing a large train set.
    with strategy.scope():
        teacher = load_teacher(settings.teacher)
        student_backbone = (AlbertBackbone(settings.student_config) if settings.student_init is None
                            else load_backbone_checkpoint(settings.student_init, "--student-init"))
    _check_models(teacher, student_backbone.config, tokenizer, task.max_seq_length, settings)

    inputs, labels = task.load_train()
    if task.num_outputs != teacher.num_classes:
        what = "a regression score" if task.num_outputs == 1 else f"{task.num_outputs} classes"
        raise ValueError(f"The teacher {settings.teacher} has {teacher.num_classes} output(s) but --task "
                         f"{settings.task} has {what}; use a teacher fine-tuned on this task.")
    num_rows = len(labels)
    num_labelled = min(num_rows, settings.max_train_examples or num_rows)

    logits, cache_status = None, "off"
    if settings.cache_teacher_logits or num_rows > num_labelled:
        logits, cache_status = _teacher_logits(teacher, inputs, settings)
    if num_rows > num_labelled:
        # Transfer rows: the teacher's prediction stands in for the (unused) label.
        labels = labels.copy()
        teacher_view = logits[num_labelled:]
        labels[num_labelled:] = teacher_view[:, 0] if task.num_outputs == 1 else np.argmax(teacher_view, axis=-1)

    steps_per_epoch = math.ceil(num_rows / settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
    if logits is not None:
        dataset = with_teacher_logits(dataset, logits)  # before shuffling: joined by row index
    dataset = (dataset.shuffle(num_rows, seed=settings.seed, reshuffle_each_iteration=True)
               .batch(settings.batch_size).prefetch(tf.data.AUTOTUNE))

    with strategy.scope():
        student = AlbertClassifier(student_backbone, task.num_outputs, dropout=settings.dropout)
        distiller = Distiller(teacher, student, alpha=settings.alpha, temperature=settings.temperature,
                              hidden_state_weight=settings.hidden_state_weight,
                              attention_weight=settings.attention_weight, attention_loss=settings.attention_loss)
        optimizer = create_optimizer("adamw", learning_rate=settings.learning_rate,
                                     warmup_steps=int(settings.warmup_proportion * total_steps),
                                     total_steps=total_steps, weight_decay=settings.weight_decay)
        distiller.compile(optimizer=optimizer, jit_compile=settings.jit_compile)
    for message in task.skipped[:5]:
        print(f"skipped training example {message}")
    first_step = _FirstStepLoss()
    history = distiller.fit(dataset, epochs=settings.epochs, shuffle=False,  # the dataset shuffles itself
                            callbacks=[first_step], verbose=1 if settings.progress else 2)
    for name, values in history.history.items():
        if any(math.isnan(value) for value in values):
            raise ValueError(f"{name} became NaN during training; lower --learning-rate or use float32.")

    os.makedirs(settings.output_dir, exist_ok=True)
    student_scores, prediction_files = task.evaluate(student, settings.output_dir)
    with tempfile.TemporaryDirectory() as scratch:  # the teacher's test predictions are not wanted
        teacher_scores, _ = task.evaluate(teacher, scratch)

    results = {
        "task": settings.task,
        "metrics": student_scores,
        "teacher_metrics": teacher_scores,
        "models": {},
        "num_train_examples": num_labelled,
        "num_transfer_examples": num_rows - num_labelled,
        "train_steps": total_steps,
        "first_step_loss": first_step.value,
        "final_train_loss": float(history.history["loss"][-1]),
        "final_metrics": {name: float(values[-1]) for name, values in history.history.items()},
        "teacher_logits_cache": cache_status,
        "skipped_train_examples": task.skipped,
        "prediction_files": prediction_files,
        "settings": _settings_record(settings),
    }
    if is_chief(strategy):
        student_path = os.path.join(settings.output_dir, STUDENT_FILE)
        save_model_atomically(student, student_path)
        save_model_atomically(student_backbone, os.path.join(settings.output_dir, STUDENT_BACKBONE_FILE))
        student_backbone.config.to_json_file(os.path.join(settings.output_dir, "albert_config.json"))
        results["models"] = {"teacher": model_size(teacher, settings.teacher),
                             "student": model_size(student, student_path)}
        teacher_size, student_size = results["models"]["teacher"], results["models"]["student"]
        results["models"]["compression"] = {key: teacher_size[key] / student_size[key] for key in student_size}
        # Last: a results file means the run finished and the models beside it are complete.
        atomic_write_text(os.path.join(settings.output_dir, RESULTS_FILE), json.dumps(results, indent=2) + "\n")
    return DistillResult(results, settings.output_dir)


def load_teacher(path: str) -> keras.Model:
    """The fine-tuned `AlbertClassifier` in the `.keras` file `path` (ValueError otherwise)."""
    import albert_tf.pretrainer  # noqa: F401  (registers every albert_tf model for loading)
    from albert_tf.tasks import AlbertClassifier

    if not os.path.isfile(path):
        raise ValueError(f"--teacher not found: {path}")
    try:
        loaded = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a file that is not a model
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"--teacher {path} could not be loaded as a .keras model ({reason}).") from None
    if not isinstance(loaded, AlbertClassifier):
        raise ValueError(f"--teacher {path} holds a model of type {type(loaded).__name__}, not an "
                         "AlbertClassifier: pass the model.keras written by `albert finetune` on a "
                         "classification/regression task.")
    return loaded


def model_size(model: keras.Model, path: str) -> dict[str, int]:
    """Parameter count, weight bytes and `.keras` file size of `model` saved at `path`.

    `weights_bytes` compares models fairly: a `.keras` file also holds the optimizer's
    state when the model was saved compiled (as `albert finetune`'s `model.keras`).
    """
    weights_bytes = sum(int(np.prod(weight.shape)) * np.dtype(weight.dtype).itemsize for weight in model.weights)
    return {"parameters": int(model.count_params()), "weights_bytes": weights_bytes,
            "keras_bytes": os.path.getsize(path)}


def data_fingerprint(inputs: dict[str, np.ndarray], teacher_path: str) -> str:
    """SHA-256 of the tokenized training inputs (in order) and of the teacher file's bytes:
    a cache of teacher logits is valid exactly when both are unchanged."""
    digest = hashlib.sha256()
    for name in INPUT_NAMES:
        array = np.ascontiguousarray(inputs[name], dtype=np.int32)
        digest.update(f"{name}{array.shape}".encode())
        digest.update(array.tobytes())
    digest.update(_file_sha256(teacher_path).encode())
    return digest.hexdigest()


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _teacher_logits(teacher: keras.Model, inputs: dict[str, np.ndarray],
                    settings: DistillSettings) -> tuple[np.ndarray, str]:
    """The teacher's logits for every training row, and how they were obtained:
    `reused` (valid cache), `computed` (cache written) or `in_memory` (transfer rows, no cache asked)."""
    from albert_tf.distillation.teacher_cache import load_teacher_logits, save_teacher_logits

    fingerprint = data_fingerprint(inputs, settings.teacher)
    num_rows = len(inputs[INPUT_NAMES[0]])
    logits_path = os.path.join(settings.output_dir, LOGITS_FILE)
    record_path = os.path.join(settings.output_dir, LOGITS_FINGERPRINT_FILE)
    if settings.cache_teacher_logits and os.path.isfile(logits_path):
        reason = _cache_mismatch(logits_path, record_path, fingerprint, num_rows, teacher.num_classes)
        if reason is None:
            print(f"reusing cached teacher logits {logits_path} ({num_rows} rows, fingerprint {fingerprint[:12]})")
            return load_teacher_logits(logits_path), "reused"
        print(f"teacher-logits cache {logits_path} is stale ({reason}); recomputing")

    logits = _predict_with_progress(teacher, inputs, settings.eval_batch_size or settings.batch_size,
                                    settings.progress)
    if not settings.cache_teacher_logits:
        return logits, "in_memory"
    save_teacher_logits(logits_path, logits)
    record = {"fingerprint": fingerprint, "rows": num_rows, "num_classes": int(logits.shape[1]),
              "teacher": os.path.abspath(settings.teacher), "logits_sha256": _file_sha256(logits_path)}
    # Written after the array: an interrupted run leaves a record that does not match, so a rerun recomputes.
    atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    print(f"cached teacher logits for {num_rows} training rows in {logits_path} (fingerprint {fingerprint[:12]})")
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
                           progress: bool) -> np.ndarray:
    """`model`'s float32 logits for all rows (in order), under a tqdm bar."""
    from tqdm.auto import tqdm

    num_rows = len(inputs[INPUT_NAMES[0]])
    with tqdm(total=num_rows, desc="teacher logits", unit="ex", disable=not progress, leave=False) as bar:
        # One `predict` (one traced function); the callback only moves the bar.
        callback = keras.callbacks.LambdaCallback(
            on_predict_batch_end=lambda batch, logs: bar.update(min(batch_size, num_rows - bar.n)))
        logits = model.predict({name: inputs[name] for name in INPUT_NAMES}, batch_size=batch_size, verbose=0,
                               callbacks=[callback])
    return np.asarray(logits, dtype="float32")


def _check_models(teacher: keras.Model, student_config: AlbertConfig, tokenizer: Any, max_seq_length: int,
                  settings: DistillSettings) -> None:
    teacher_config = teacher.backbone.config
    student_source = settings.student_init or "--student-config"
    if student_config.vocab_size != teacher_config.vocab_size:
        raise ValueError(f"The student ({student_source}) has vocab_size {student_config.vocab_size} but the "
                         f"teacher has {teacher_config.vocab_size}; both read the same token ids, so give the "
                         "student the teacher's vocab_size.")
    if tokenizer.vocab_size > teacher_config.vocab_size:
        raise ValueError(f"The SentencePiece model {settings.spm_model} has {tokenizer.vocab_size} pieces but the "
                         f"teacher's vocab_size is {teacher_config.vocab_size}; use the teacher's vocabulary.")
    for role, config in (("teacher", teacher_config), ("student", student_config)):
        if max_seq_length > config.max_position_embeddings:
            raise ValueError(f"--max-seq-length {max_seq_length} exceeds the {role}'s max_position_embeddings "
                             f"({config.max_position_embeddings}).")


def _settings_record(settings: DistillSettings) -> dict[str, Any]:
    record = {field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)}
    record["student_config"] = None if settings.student_config is None else settings.student_config.to_dict()
    record["labels"] = list(settings.labels) if settings.labels else None
    return record
