"""A preemption-safe MLM + SOP pretraining run with Keras `fit` under `tf.distribute`.

Training is cut into "epochs" of `steps_per_checkpoint` steps. At each epoch
end `BackupAndRestore` saves the model and optimizer state; a relaunch of the
same command restores it and continues at that step, so a killed job loses at
most one checkpoint interval and always stops at `train_steps`. (Keras
restores only at epoch boundaries, which is why the epochs are short.)
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from albert_tf.backbone import AlbertBackbone
from albert_tf.config import AlbertConfig
from albert_tf.data.create_pretraining_data import METADATA_FILE, SENTENCE_TASKS, read_metadata
from albert_tf.data.pipeline import pretraining_dataset, record_files
from albert_tf.io_utils import atomic_write_text
from albert_tf.pretrainer import AlbertPretrainer
from albert_tf.training.callbacks import RotatingCheckpoints, StopOnNaN
from albert_tf.training.strategy import create_strategy, is_chief, worker_id

DTYPES = ("float32", "mixed_bfloat16", "mixed_float16")
BACKUP_DIR = "backup"
STATE_FILE = "training_state.json"


@dataclasses.dataclass(frozen=True)
class PretrainingSettings:
    """Everything a pretraining run needs.

    Args:
        config: the model configuration.
        records: record file glob(s) or directories from `albert create-data`.
        output_dir: checkpoints, logs, metrics and the final models.
        batch_size: global batch (split across replicas).
        train_steps: optimizer steps in total.
        steps_per_checkpoint: steps between checkpoints (the resume granularity).
        keep_checkpoints: newest checkpoints kept.
        learning_rate: peak learning rate.
        warmup_steps: linear warm-up steps (default: 2.5% of `train_steps`, as 3,125 of 125k).
        optimizer: `lamb` (ALBERT's) or `adamw`.
        weight_decay: decoupled weight decay rate.
        strategy: `tf.distribute` strategy name (see `create_strategy`).
        tpu: TPU name or address for the `tpu` strategy.
        dtype: `float32`, `mixed_bfloat16` or `mixed_float16` (with loss scaling).
        jit_compile: XLA-compile the train step.
        steps_per_execution: steps per `tf.function` call.
        gradient_accumulation_steps: micro-batches per step.
        seed: initialization and shuffling seed.
        init_backbone: a `.keras` backbone to start from instead of random weights.
        dynamic_masking: draw new masks each time an example is read.
        sentence_loss_weight: weight of the sentence-task loss (SOP or NSP,
            whichever the records hold); 0 pretrains the MLM alone.
        eval_records: held-out record glob(s) or directories, evaluated at
            every checkpoint (`val_*` columns of metrics.csv); none if empty.
        progress: show the Keras progress bar.
    """

    config: AlbertConfig
    records: tuple[str, ...]
    output_dir: str
    batch_size: int = 32
    train_steps: int = 1000
    steps_per_checkpoint: int = 100
    keep_checkpoints: int = 3
    learning_rate: float = 0.00176
    warmup_steps: int | None = None
    optimizer: str = "lamb"
    weight_decay: float = 0.01
    strategy: str = "auto"
    tpu: str | None = None
    dtype: str = "float32"
    jit_compile: bool = False
    steps_per_execution: int = 1
    gradient_accumulation_steps: int = 1
    seed: int = 12345
    init_backbone: str | None = None
    dynamic_masking: bool = False
    sentence_loss_weight: float = 1.0
    eval_records: tuple[str, ...] = ()
    progress: bool = True

    def __post_init__(self):
        positive = ("batch_size", "train_steps", "steps_per_checkpoint", "keep_checkpoints",
                    "steps_per_execution", "gradient_accumulation_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {name}={getattr(self, name)}")
        if self.train_steps % self.steps_per_checkpoint:
            raise ValueError(
                f"`train_steps` ({self.train_steps}) must be a multiple of `steps_per_checkpoint` "
                f"({self.steps_per_checkpoint}) so the run ends exactly at train_steps."
            )
        if self.dtype not in DTYPES:
            raise ValueError(f"`dtype` must be one of {DTYPES}. Received: dtype={self.dtype!r}")
        if self.optimizer not in ("lamb", "adamw"):
            raise ValueError(f"`optimizer` must be 'lamb' or 'adamw'. Received: optimizer={self.optimizer!r}")
        if not self.sentence_loss_weight >= 0:
            raise ValueError(
                f"`sentence_loss_weight` must be >= 0. Received: sentence_loss_weight={self.sentence_loss_weight}"
            )
        if self.learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate}")

    @property
    def effective_warmup_steps(self) -> int:
        return self.warmup_steps if self.warmup_steps is not None else self.train_steps // 40


@dataclasses.dataclass(frozen=True)
class PretrainingResult:
    """What a finished run reports."""

    final_step: int
    resumed_from_step: int
    history: dict[str, list[float]]
    backbone_path: str | None


def check_records(settings: PretrainingSettings) -> dict:
    """The records' metadata, checked against the model configuration."""
    files = record_files(list(settings.records))
    metadata_path = os.path.join(os.path.dirname(files[0]), METADATA_FILE)
    if not tf.io.gfile.exists(metadata_path):
        raise ValueError(f"No {METADATA_FILE} beside {files[0]}: records must come from `albert create-data`.")
    metadata = read_metadata(os.path.dirname(files[0]))
    task = metadata.get("sentence_task", "sop")
    if task not in SENTENCE_TASKS:
        raise ValueError(
            f"The records hold sentence_task={task!r}; this version pretrains on {list(SENTENCE_TASKS)}."
        )
    config = settings.config
    if metadata["vocab_size"] != config.vocab_size:
        raise ValueError(
            f"The records use a vocabulary of {metadata['vocab_size']} pieces but the model config has "
            f"vocab_size={config.vocab_size}. Set vocab_size to {metadata['vocab_size']} in the config."
        )
    seq_length = metadata["config"]["max_seq_length"]
    if seq_length > config.max_position_embeddings:
        raise ValueError(
            f"The records hold sequences of {seq_length} tokens but the model config has "
            f"max_position_embeddings={config.max_position_embeddings}. Recreate the records with "
            f"--max-seq-length <= {config.max_position_embeddings} or raise max_position_embeddings."
        )
    return metadata


def run_pretraining(settings: PretrainingSettings) -> PretrainingResult:
    """Pretrains (or resumes pretraining) and writes the backbone as `backbone.keras`."""
    strategy = create_strategy(settings.strategy, settings.tpu)  # before any other TF op
    replicas = strategy.num_replicas_in_sync
    if settings.batch_size % replicas:
        raise ValueError(
            f"--batch-size {settings.batch_size} is not divisible by the {replicas} replicas of the "
            f"{type(strategy).__name__}; use a multiple of {replicas}."
        )
    if (settings.batch_size // replicas) % settings.gradient_accumulation_steps:
        raise ValueError(
            f"The per-replica batch ({settings.batch_size // replicas}) is not divisible by "
            f"--gradient-accumulation-steps {settings.gradient_accumulation_steps}."
        )
    metadata = check_records(settings)
    chief = is_chief(strategy)
    output_dir = settings.output_dir
    # Only the chief writes the shared outputs; other workers write to their own folder.
    private_dir = output_dir if chief else os.path.join(output_dir, "workers", worker_id(strategy))
    os.makedirs(private_dir, exist_ok=True)

    keras.config.set_dtype_policy(settings.dtype)
    keras.utils.set_random_seed(settings.seed)
    backup_dir = os.path.join(private_dir, BACKUP_DIR)
    resumed_from = _backed_up_step(backup_dir, settings.steps_per_checkpoint)

    dataset = pretraining_dataset(
        list(settings.records), settings.batch_size,
        # A resumed run reshuffles with a new seed instead of replaying the
        # batches already seen (replaying costs a full read of them).
        seed=settings.seed + resumed_from,
        dynamic_masker=_dynamic_masker(metadata) if settings.dynamic_masking else None,
    )

    eval_dataset, eval_steps = None, None
    if settings.eval_records:
        _check_eval_records(settings, metadata)
        eval_dataset = pretraining_dataset(list(settings.eval_records), settings.batch_size, is_training=False)
        # Keras keeps one validation iterator across epochs: repeat the data and
        # stop each evaluation after exactly one pass.
        eval_steps = int(eval_dataset.reduce(0, lambda count, _: count + 1))
        eval_dataset = eval_dataset.repeat()

    with strategy.scope():
        if settings.init_backbone:
            backbone = keras.saving.load_model(settings.init_backbone)
            if not isinstance(backbone, AlbertBackbone):
                raise ValueError(f"{settings.init_backbone} holds a {type(backbone).__name__}, not an AlbertBackbone.")
        else:
            backbone = AlbertBackbone(settings.config)
        pretrainer = AlbertPretrainer(backbone, gradient_accumulation_steps=settings.gradient_accumulation_steps,
                                      sentence_loss_weight=settings.sentence_loss_weight)
        from albert_tf.optimization import create_optimizer

        optimizer = create_optimizer(
            settings.optimizer, learning_rate=settings.learning_rate,
            warmup_steps=settings.effective_warmup_steps, total_steps=settings.train_steps,
            weight_decay=settings.weight_decay,
        )
        pretrainer.compile(optimizer=optimizer, jit_compile=settings.jit_compile,
                           steps_per_execution=settings.steps_per_execution)

    stop_on_nan = StopOnNaN()
    callbacks = [
        keras.callbacks.BackupAndRestore(backup_dir, save_freq="epoch", delete_checkpoint=False),
        RotatingCheckpoints(os.path.join(private_dir, "checkpoints"), keep=settings.keep_checkpoints),
        keras.callbacks.CSVLogger(os.path.join(private_dir, "metrics.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(private_dir, "logs"), update_freq="epoch"),
        stop_on_nan,
    ]
    history = pretrainer.fit(
        dataset,
        epochs=settings.train_steps // settings.steps_per_checkpoint,
        steps_per_epoch=settings.steps_per_checkpoint,
        callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself
        validation_data=eval_dataset,
        validation_steps=eval_steps,
        verbose=1 if settings.progress else 2,
    )
    final_step = int(pretrainer.optimizer.iterations.numpy())
    if stop_on_nan.failed_step is not None:
        raise ValueError(f"The loss became NaN at step {stop_on_nan.failed_step}; see the message above.")

    backbone_path = None
    if chief:
        backbone_path = os.path.join(output_dir, "backbone.keras")
        _save_atomically(backbone, backbone_path)
        # With its MLM and sentence heads: for fill-mask, evaluation and `albert convert --to hf`.
        _save_atomically(pretrainer, os.path.join(output_dir, "pretrainer.keras"))
        settings.config.to_json_file(os.path.join(output_dir, "albert_config.json"))
        state = {"final_step": final_step, "resumed_from_step": resumed_from,
                 "train_steps": settings.train_steps, "replicas": replicas,
                 # Old record directories predate NSP: theirs is SOP.
                 "sentence_task": metadata.get("sentence_task", "sop"),
                 "sentence_loss_weight": settings.sentence_loss_weight}
        atomic_write_text(os.path.join(output_dir, STATE_FILE), json.dumps(state, indent=2) + "\n")
    return PretrainingResult(final_step, resumed_from, dict(history.history), backbone_path)


def _check_eval_records(settings: PretrainingSettings, train_metadata: dict) -> None:
    """Held-out records must have the training records' shape and sentence task."""
    from albert_tf.data.create_pretraining_data import read_metadata
    from albert_tf.data.pipeline import record_files

    directories = sorted({os.path.dirname(path) for path in record_files(list(settings.eval_records))})
    for directory in directories:
        metadata = read_metadata(directory)
        for key in ("max_seq_length", "max_predictions_per_seq"):
            if metadata["config"][key] != train_metadata["config"][key]:
                raise ValueError(
                    f"The eval records in {directory} have {key}={metadata['config'][key]} but the training "
                    f"records have {train_metadata['config'][key]}; create both with the same --{key.replace('_', '-')}."
                )
        if metadata.get("sentence_task", "sop") != train_metadata.get("sentence_task", "sop"):
            raise ValueError(
                f"The eval records in {directory} hold {metadata.get('sentence_task', 'sop')!r} pairs but the training "
                f"records hold {train_metadata.get('sentence_task', 'sop')!r}; the sentence head's labels would not match."
            )
        if metadata.get("vocab_size") != train_metadata.get("vocab_size"):
            raise ValueError(
                f"The eval records in {directory} use a vocabulary of {metadata.get('vocab_size')} pieces, the "
                f"training records {train_metadata.get('vocab_size')}; tokenize both with the same --spm-model."
            )


def _backed_up_step(backup_dir: str, steps_per_checkpoint: int) -> int:
    """The step a previous run of this command reached (0 for a new run)."""
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8") as handle:
        return int(json.load(handle)["epoch"]) * steps_per_checkpoint


def _save_atomically(model: keras.Model, path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        temporary = os.path.join(scratch, os.path.basename(path))
        model.save(temporary)
        shutil.move(temporary, path)


def _dynamic_masker(metadata: dict):
    """The n-gram masker the records were made with, for dynamic masking."""
    from albert_tf.data.masking import NgramMasker
    from albert_tf.tokenizer import AlbertTokenizer

    spm_model = metadata.get("spm_model")
    if not spm_model or not os.path.exists(spm_model):
        raise ValueError("Dynamic masking needs the SentencePiece model named in the records' metadata.json.")
    config = metadata["config"]
    return NgramMasker.for_tokenizer(AlbertTokenizer(spm_model), config["masked_lm_prob"],
                                     config["max_predictions_per_seq"], config["max_ngram"])
