"""A preemption-safe MLM + SOP pretraining run with Keras `fit` under `tf.distribute`.

What is pretraining's own lives here: the records and their checks, dynamic
masking, the MLM + SOP pretrainer with LAMB, the held-out evaluation and the
final models. The run itself is the training core's
(`albert_tf.training.trainer`): intervals of `steps_per_checkpoint` steps,
each ending with the model and optimizer state saved (`backup/` and a
rotating `checkpoints/ckpt-<step>.weights.h5`, each written aside and
renamed), the held-out evaluation and a `metrics.csv` row; a relaunch of the
same command restores the newest readable state and continues at that step,
so a killed job loses at most one interval and always stops at
`train_steps`. A relaunch with other settings is refused
(`run_settings.json`). Test-only kill points (`ALBERT_TF_FAULT_AFTER`, see
`albert_tf.io_utils.fault_point`): `pretrain:backup-written`,
`pretrain:backup-published`, `pretrain:checkpoint-written`,
`pretrain:backbone-saved`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Callable

import keras
import tensorflow as tf

from albert_tf.backbone import AlbertBackbone, remat_refusal, remat_scope
from albert_tf.config import AlbertConfig
from albert_tf.data.create_pretraining_data import METADATA_FILE, SENTENCE_TASKS, read_metadata
from albert_tf.data.pipeline import naming_corrupt_records, pretraining_dataset, record_files
from albert_tf.io_utils import check_output_path, fault_point, load_keras_file, staged_file
from albert_tf.pretrainer import AlbertPretrainer
from albert_tf.training import trainer
from albert_tf.training.resume import describe_changes
from albert_tf.training.strategy import create_strategy, is_chief, worker_id
from albert_tf.training.trainer import DTYPES, check_global_batch

logger = logging.getLogger(__name__)

__all__ = ["DTYPES", "MODEL_PRESET", "STATE_FILE", "PretrainingResult", "PretrainingSettings", "check_records",
           "run_pretraining"]

# Written last by a finished run (its results): the outputs are complete.
STATE_FILE = "training_state.json"
# The pretrained model's preset folder inside the output directory.
MODEL_PRESET = "model"


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
        dtype: `auto` (mixed_bfloat16 on a CPU with native bfloat16 or, with `jit_compile`, on GPUs of
            compute capability 8.0+; else float32; `albert pretrain`'s default), `float32` (the default
            here), `mixed_bfloat16` or `mixed_float16` (with loss scaling).
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
        trainer.resolve_settings_dtype(self)
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
    """What a finished run reports.

    Attributes:
        final_step: the step training ended at (`train_steps`).
        resumed_from_step: the step restored at launch (0 for a fresh run; `train_steps` for a finished one).
        history: each `metrics.csv` column (`loss`, ..., `val_*`) over the run's intervals, first to last.
        backbone_path: the written `backbone.keras` (None on a worker other than the chief).
    """

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


@trainer.restores_dtype_policy
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
    if settings.steps_per_execution > 1 and isinstance(strategy, tf.distribute.MirroredStrategy):
        # Keras 3's multi-step loop reads a MirroredStrategy's distributed iterator inside tf.cond, which fails
        # in graph execution ("You must feed a value for placeholder tensor"; keras-team/keras#19246).
        raise ValueError(
            f"--steps-per-execution {settings.steps_per_execution} fails under MirroredStrategy in Keras 3 "
            "(keras-team/keras#19246): use --steps-per-execution 1 with it, or --strategy one_device on one device."
        )
    chief = is_chief(strategy)
    # Only the chief writes the shared outputs; other workers write to their own folder.
    run_dir = settings.output_dir if chief else os.path.join(settings.output_dir, "workers", worker_id(strategy))
    check_output_path(settings.output_dir, "--output-dir", folder=True)

    trainer.apply_precision_and_seed(settings)
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
    with trainer.run_folder(
        run_dir, "albert pretrain", _recorded_settings(settings, config), state_dir="", results_file=STATE_FILE,
        alternatives=(f"or use a new --output-dir (with --init-backbone {os.path.join(run_dir, 'backbone.keras')} "
                      "to start from its weights)"),
    ):
        # A finished run goes through too: it restores its last state, trains nothing and writes its outputs
        # again (under multi-worker every worker must build the model, together).
        return _train(settings, strategy, chief, run_dir, backbone, metadata)


def _train(settings: PretrainingSettings, strategy: tf.distribute.Strategy, chief: bool, run_dir: str,
           backbone: AlbertBackbone, metadata: dict) -> PretrainingResult:
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

    all_record_files = record_files(list(settings.records) + list(settings.eval_records))
    batches = _RecordStream(list(settings.records), settings.batch_size, settings.train_steps, settings.seed,
                            _dynamic_masker(metadata) if settings.dynamic_masking else None)
    loop = trainer.TrainingLoop(
        pretrainer, batches, run_dir, settings.steps_per_checkpoint,
        evaluate=_held_out_evaluation(pretrainer, settings, all_record_files) if settings.eval_records else None,
        verbose=1 if settings.progress else 2, keep_checkpoints=settings.keep_checkpoints,
        state_dir="",  # backup/ and checkpoints/ beside the outputs, as they always were
        index_column="epoch",  # the interval's number, read by `plot_training_curves` and older readers
    )
    with naming_corrupt_records(all_record_files):
        outcome = loop.run()
    columns = [name for row in outcome.rows for name in row if name not in ("step", "epoch")]
    history = {name: [row[name] for row in outcome.rows if name in row] for name in dict.fromkeys(columns)}

    backbone_path = None
    if chief:
        # Each file is published by rename; training_state.json comes last and
        # marks the set complete. A kill in between is repaired by the rerun,
        # which restores step train_steps and writes them all again.
        config = backbone.config
        backbone_path = os.path.join(run_dir, "backbone.keras")
        _save_atomically(backbone, backbone_path)
        fault_point("pretrain:backbone-saved")
        # With its MLM and sentence heads: for fill-mask, evaluation and `albert convert --to hf`.
        _save_atomically(pretrainer, os.path.join(run_dir, "pretrainer.keras"))
        config.to_json_file(os.path.join(run_dir, "albert_config.json"))
        # The model with its tokenizer: what `albert finetune --init` and `convert` take.
        pretrainer.save_to_preset(
            os.path.join(run_dir, MODEL_PRESET), spm_model=_recorded_spm_model(metadata),
            sequence_length=metadata["config"]["max_seq_length"], overwrite=True,
            provenance={"command": "albert pretrain", "records": record_files(list(settings.records)),
                        "train_steps": outcome.final_step, "batch_size": settings.batch_size,
                        "sentence_task": metadata.get("sentence_task", "sop"),
                        "final_metrics": {name: float(values[-1]) for name, values in history.items()}},
        )
        state = {"final_step": outcome.final_step, "resumed_from_step": outcome.resumed_from_step,
                 "train_steps": settings.train_steps, "replicas": strategy.num_replicas_in_sync,
                 # Old record directories predate NSP: theirs is SOP.
                 "sentence_task": metadata.get("sentence_task", "sop"),
                 "sentence_loss_weight": settings.sentence_loss_weight}
        trainer.finish_run(run_dir, state, "albert pretrain", results_file=STATE_FILE, plot=_plot_curves(settings))
    return PretrainingResult(outcome.final_step, outcome.resumed_from_step, history, backbone_path)


@dataclasses.dataclass(frozen=True)
class _RecordStream:
    """The training batches (a `trainer.TrainingBatches`): the records, shuffled and repeated without end.

    A resumed run reshuffles with a new seed (`seed + first step`) instead of
    replaying the batches already seen (replaying costs a full read of them).
    """

    records: list[str]
    batch_size: int
    total_steps: int
    seed: int
    dynamic_masker: Any = None

    def steps(self, first: int, count: int) -> tf.data.Dataset:
        return pretraining_dataset(self.records, self.batch_size, seed=self.seed + first,
                                   dynamic_masker=self.dynamic_masker)


def _held_out_evaluation(pretrainer: AlbertPretrainer, settings: PretrainingSettings,
                         all_record_files: list[str]) -> Callable[[], trainer.Scores]:
    """The held-out records' metrics (`{"val": {...}}`, the `val_*` columns) of the pretrainer's weights."""
    dataset = pretraining_dataset(list(settings.eval_records), settings.batch_size, is_training=False)
    # Counted once, then repeated: every evaluation (on every worker) runs exactly one pass.
    with naming_corrupt_records(all_record_files):
        steps = int(dataset.reduce(0, lambda count, _: count + 1))
    dataset = dataset.repeat()

    def evaluate() -> trainer.Scores:
        return {"val": pretrainer.evaluate(dataset, steps=steps, verbose=0, return_dict=True)}

    return evaluate


def _plot_curves(settings: PretrainingSettings) -> trainer.PlotCurves:
    """`curves.png`: the MLM and sentence losses and accuracies, held-out dashed (`plot_training_curves`)."""
    from albert_tf.training.plots import plot_training_curves

    return lambda metrics, curves, title: plot_training_curves(metrics, curves, settings.steps_per_checkpoint,
                                                               title=title)


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
