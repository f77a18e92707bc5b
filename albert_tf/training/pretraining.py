"""A preemption-safe MLM + SOP pretraining run with Keras `fit` under `tf.distribute`.

Training is cut into "epochs" of `steps_per_checkpoint` steps. At each epoch
end the model and optimizer state are saved (`backup/` and a rotating
`checkpoints/ckpt-<step>.weights.h5`, each written aside and renamed); a
relaunch of the same command restores the newest readable one and continues
at that step, so a killed job loses at most one checkpoint interval and
always stops at `train_steps`. A relaunch with other settings is refused
(`run_settings.json`). Test-only kill points (`ALBERT_TF_FAULT_AFTER`, see
`albert_tf.io_utils.fault_point`): `pretrain:backup-written`,
`pretrain:backup-published`, `pretrain:checkpoint-written`,
`pretrain:backbone-saved`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os

import keras
import tensorflow as tf

from albert_tf.backbone import AlbertBackbone, remat_refusal, remat_scope
from albert_tf.config import AlbertConfig
from albert_tf.data.create_pretraining_data import METADATA_FILE, SENTENCE_TASKS, read_metadata
from albert_tf.data.pipeline import naming_corrupt_records, pretraining_dataset, record_files
from albert_tf.io_utils import (atomic_write_text, check_output_path, exclusive_run, fault_point, load_keras_file,
                                remove_staging_leftovers, staged_file)
from albert_tf.pretrainer import AlbertPretrainer
from albert_tf.training.callbacks import BackupCheckpoint, RotatingCheckpoints, StopOnNaN
from albert_tf.training.resume import (check_run_settings, describe_changes, ensure_checkpoint, restore_training_state,
                                       saved_states)
from albert_tf.training.strategy import create_strategy, is_chief, worker_id
from albert_tf.training.trainer import check_global_batch

logger = logging.getLogger(__name__)

DTYPES = ("float32", "mixed_bfloat16", "mixed_float16")
BACKUP_DIR = "backup"
CHECKPOINT_DIR = "checkpoints"
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
        remat: rematerialize the shared layer's activations in the backward
            pass (less memory, about one more forward pass per step; see
            `albert_tf.backbone.remat_scope`). Like `jit_compile`, a relaunch
            may change it.
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
    remat: bool = False
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


def check_records(settings: PretrainingSettings, config: AlbertConfig | None = None) -> dict:
    """The records' metadata, checked against the model configuration (default: `settings.config`)."""
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
    config = config or settings.config
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
    """Pretrains (or resumes pretraining) and writes the backbone as `backbone.keras`.

    A relaunch with the same settings resumes from the newest readable saved
    state and stops at `train_steps`; a relaunch with other settings is refused
    before anything is written (see `albert_tf.training.resume`).
    """
    strategy = create_strategy(settings.strategy, settings.tpu)  # before any other TF op
    replicas = strategy.num_replicas_in_sync
    check_global_batch(strategy, settings.batch_size)
    if (settings.batch_size // replicas) % settings.gradient_accumulation_steps:
        raise ValueError(
            f"The per-replica batch ({settings.batch_size // replicas}) is not divisible by "
            f"--gradient-accumulation-steps {settings.gradient_accumulation_steps}."
        )
    chief = is_chief(strategy)
    output_dir = settings.output_dir
    # Only the chief writes the shared outputs; other workers write to their own folder.
    private_dir = output_dir if chief else os.path.join(output_dir, "workers", worker_id(strategy))
    check_output_path(output_dir, "--output-dir", folder=True)
    os.makedirs(private_dir, exist_ok=True)
    with exclusive_run(private_dir, "albert pretrain"):
        return _run_locked(settings, strategy, chief, private_dir)


def _run_locked(settings: PretrainingSettings, strategy, chief: bool, private_dir: str) -> PretrainingResult:
    output_dir = settings.output_dir
    replicas = strategy.num_replicas_in_sync
    backup_dir = os.path.join(private_dir, BACKUP_DIR)
    checkpoint_dir = os.path.join(private_dir, CHECKPOINT_DIR)
    for directory in (private_dir, backup_dir, checkpoint_dir):
        remove_staging_leftovers(directory)

    keras.config.set_dtype_policy(settings.dtype)
    keras.utils.set_random_seed(settings.seed)
    with strategy.scope(), remat_scope(settings.remat):
        if settings.init_backbone:
            backbone = load_keras_file(settings.init_backbone, "--init-backbone Keras model")
            if not isinstance(backbone, AlbertBackbone):
                raise ValueError(f"{settings.init_backbone} holds a {type(backbone).__name__}, not an AlbertBackbone.")
        else:
            backbone = AlbertBackbone(settings.config)
    if settings.remat and not backbone.remat:
        raise ValueError(remat_refusal(backbone.config))
    # The shape actually trained: the loaded backbone's, whatever --config says.
    config = backbone.config
    if config != settings.config:
        logger.warning("--init-backbone %s has its own shape; --config is ignored for the model: %s",
                       settings.init_backbone, ", ".join(describe_changes(settings.config.to_dict(), config.to_dict())))
    metadata = check_records(settings, config)
    if settings.eval_records:
        _check_eval_records(settings, metadata)
    has_state = bool(saved_states(backup_dir, checkpoint_dir)) or os.path.exists(os.path.join(private_dir, STATE_FILE))
    check_run_settings(private_dir, _recorded_settings(settings, config), has_state)

    with strategy.scope():
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
        resumed_from, restored_path = restore_training_state(pretrainer, backup_dir, checkpoint_dir)
    if resumed_from % settings.steps_per_checkpoint or resumed_from > settings.train_steps:
        raise ValueError(
            f"{restored_path} holds step {resumed_from}, which is not a checkpoint of this run "
            f"(--steps-per-checkpoint {settings.steps_per_checkpoint}, --train-steps {settings.train_steps}); "
            "use a new --output-dir."
        )
    if restored_path:
        logger.info("resuming at step %d from %s", resumed_from, restored_path)
        ensure_checkpoint(restored_path, resumed_from, checkpoint_dir, settings.keep_checkpoints)
    # Rows of intervals after the restored state are trained (and logged) again.
    _keep_metric_rows_before(os.path.join(private_dir, METRICS_FILE), resumed_from // settings.steps_per_checkpoint)

    dataset = pretraining_dataset(
        list(settings.records), settings.batch_size,
        # A resumed run reshuffles with a new seed instead of replaying the
        # batches already seen (replaying costs a full read of them).
        seed=settings.seed + resumed_from,
        dynamic_masker=_dynamic_masker(metadata) if settings.dynamic_masking else None,
    )
    all_record_files = record_files(list(settings.records) + list(settings.eval_records))
    eval_dataset, eval_steps = None, None
    if settings.eval_records:
        eval_dataset = pretraining_dataset(list(settings.eval_records), settings.batch_size, is_training=False)
        # Keras keeps one validation iterator across epochs: repeat the data and
        # stop each evaluation after exactly one pass.
        with naming_corrupt_records(all_record_files):
            eval_steps = int(eval_dataset.reduce(0, lambda count, _: count + 1))
        eval_dataset = eval_dataset.repeat()

    stop_on_nan = StopOnNaN()
    # The interval's metrics row is written before its state is saved: a kill in
    # between replays the interval, whose row the rerun then writes again.
    callbacks = [
        keras.callbacks.CSVLogger(os.path.join(private_dir, METRICS_FILE), append=True),
        keras.callbacks.TensorBoard(os.path.join(private_dir, "logs"), update_freq="epoch"),
        BackupCheckpoint(backup_dir),
        RotatingCheckpoints(checkpoint_dir, keep=settings.keep_checkpoints),
        stop_on_nan,
    ]
    with naming_corrupt_records(all_record_files):
        history = pretrainer.fit(
            dataset,
            epochs=settings.train_steps // settings.steps_per_checkpoint,
            initial_epoch=resumed_from // settings.steps_per_checkpoint,
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
    if final_step != settings.train_steps:
        raise RuntimeError(f"training stopped at step {final_step} instead of {settings.train_steps}")

    backbone_path = None
    if chief:
        # Each file is published by rename; training_state.json comes last and
        # marks the set complete. A kill in between is repaired by the rerun,
        # which restores step train_steps and writes them all again.
        backbone_path = os.path.join(output_dir, "backbone.keras")
        _save_atomically(backbone, backbone_path)
        fault_point("pretrain:backbone-saved")
        # With its MLM and sentence heads: for fill-mask, evaluation and `albert convert --to hf`.
        _save_atomically(pretrainer, os.path.join(output_dir, "pretrainer.keras"))
        config.to_json_file(os.path.join(output_dir, "albert_config.json"))
        # The model with its tokenizer: what `albert finetune --init` and `convert` take.
        pretrainer.save_to_preset(
            os.path.join(output_dir, MODEL_PRESET), spm_model=_recorded_spm_model(metadata),
            sequence_length=metadata["config"]["max_seq_length"], overwrite=True,
            provenance={"command": "albert pretrain", "records": record_files(list(settings.records)),
                        "train_steps": final_step, "batch_size": settings.batch_size,
                        "sentence_task": metadata.get("sentence_task", "sop"),
                        "final_metrics": {name: float(values[-1]) for name, values in history.history.items()}},
        )
        state = {"final_step": final_step, "resumed_from_step": resumed_from,
                 "train_steps": settings.train_steps, "replicas": replicas,
                 # Old record directories predate NSP: theirs is SOP.
                 "sentence_task": metadata.get("sentence_task", "sop"),
                 "sentence_loss_weight": settings.sentence_loss_weight}
        atomic_write_text(os.path.join(output_dir, STATE_FILE), json.dumps(state, indent=2) + "\n")
    return PretrainingResult(final_step, resumed_from, dict(history.history), backbone_path)


# The pretrained model's preset folder inside the output directory.
MODEL_PRESET = "model"
METRICS_FILE = "metrics.csv"


def _keep_metric_rows_before(path: str, first_epoch: int) -> None:
    """Drops the metrics.csv rows of intervals from `first_epoch` on (they are trained again)."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8", newline="") as stream:
        lines = stream.read().splitlines()
    if not lines:
        return
    kept = [lines[0]] + [line for line in lines[1:] if line and int(line.split(",", 1)[0]) < first_epoch]
    if len(kept) != len(lines):
        atomic_write_text(path, "\n".join(kept) + "\n")


def _recorded_spm_model(metadata: dict) -> str | None:
    """The records' SentencePiece model when it is still where (and what) create-data recorded."""
    import hashlib

    path = metadata.get("spm_model")
    if not path or not os.path.isfile(path):
        logging.getLogger(__name__).warning(
            "The records' SentencePiece model %s is gone; the preset has no tokenizer (pass --spm-model to "
            "albert finetune).", path)
        return None
    expected = metadata.get("spm_model_sha256")
    with open(path, "rb") as stream:
        if expected and hashlib.sha256(stream.read()).hexdigest() != expected:
            logging.getLogger(__name__).warning(
                "%s changed since the records were made; the preset has no tokenizer.", path)
            return None
    return path


def _recorded_settings(settings: PretrainingSettings, config: AlbertConfig) -> dict:
    """The settings a relaunch must keep (performance-only ones such as the strategy may change)."""
    return {
        "config": config.to_dict(),
        "records": record_files(list(settings.records)),
        "eval_records": record_files(list(settings.eval_records)) if settings.eval_records else [],
        "init_backbone": os.path.abspath(settings.init_backbone) if settings.init_backbone else None,
        "batch_size": settings.batch_size,
        "train_steps": settings.train_steps,
        "steps_per_checkpoint": settings.steps_per_checkpoint,
        "learning_rate": settings.learning_rate,
        "warmup_steps": settings.effective_warmup_steps,
        "optimizer": settings.optimizer,
        "weight_decay": settings.weight_decay,
        "dtype": settings.dtype,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "seed": settings.seed,
        "dynamic_masking": settings.dynamic_masking,
        "sentence_loss_weight": settings.sentence_loss_weight,
    }


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


def _save_atomically(model: keras.Model, path: str) -> None:
    with staged_file(path) as temporary:
        model.save(temporary)


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
