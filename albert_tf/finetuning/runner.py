"""`run_finetuning`: read a task, train with AdamW on the training core, keep the best dev checkpoint.

The training itself (checkpoints, resume after a kill, evaluation at every
interval, metrics.csv, TensorBoard, curves, seeds) is
`albert_tf.training.trainer`'s; this module keeps what is fine-tuning's own:
the task's data, model and metric, and the outputs' layout.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from typing import Any

import tensorflow as tf

from albert_tf.backbone import AlbertBackbone, remat_refusal, remat_scope
from albert_tf.config import AlbertConfig
from albert_tf.finetuning.glue import GLUE_TASKS
from albert_tf.training import trainer
from albert_tf.training.strategy import create_strategy, is_chief, worker_id

logger = logging.getLogger(__name__)

TASK_NAMES = (*GLUE_TASKS, "squad1", "squad2", "race", "csv", "tsv")
RESULTS_FILE = trainer.RESULTS_FILE
# The best checkpoint's preset folder inside `output_dir` (what `albert predict` / `albert export` take),
# and the last one's.
MODEL_PRESET = "model"
LAST_PRESET = "last"


@dataclasses.dataclass(frozen=True)
class FinetuneSettings:
    """Everything a fine-tuning run needs.

    Args:
        task: one of `TASK_NAMES`.
        data_dir: the task's folder (GLUE `train.tsv`/`dev.tsv`[/`test.tsv`],
            SQuAD `train-v1.1.json`/`dev-v1.1.json` (or `-v2.0`), RACE
            `train|dev|test/{high,middle}/*.txt`, or `train|dev|test.csv/.tsv`).
        output_dir: the run's folder: results, checkpoints, metrics and the presets
            `model/` (best dev checkpoint) and `last/`.
        spm_model: the SentencePiece model of the backbone's vocabulary; None to
            take the tokenizer of the `init_checkpoint` preset.
        config: the model configuration, to start from random weights.
        init_checkpoint: a preset folder (any kind: its encoder and tokenizer
            are used), or a `.keras` `AlbertBackbone` or model with a `backbone`.
        epochs: passes over the training set.
        learning_rate: peak AdamW learning rate.
        warmup_proportion: fraction of the steps with linear warm-up (then linear decay to 0).
        batch_size: global training batch.
        eval_batch_size: prediction batch (default: `batch_size`).
        max_seq_length: tokens per sequence (default 128; SQuAD 384; RACE 512).
        doc_stride: SQuAD: tokens between the starts of consecutive context windows.
        max_query_length: SQuAD: question tokens kept.
        max_answer_length: SQuAD: longest predicted answer, in tokens.
        max_qa_length: RACE: question+option tokens kept.
        max_train_examples: use only the first N training examples (small runs).
        max_eval_examples: evaluate only the first N examples of each split.
        weight_decay: AdamW decoupled weight decay.
        dropout: dropout before the task head.
        text_column: csv/tsv: header of the first text.
        text_pair_column: csv/tsv: header of the second text.
        label_column: csv/tsv: header of the label.
        labels: csv/tsv: label strings in class order (default: sorted train labels).
        strategy: `tf.distribute` strategy name (see `create_strategy`).
        tpu: TPU name or address.
        dtype: `float32`, `mixed_bfloat16` or `mixed_float16`.
        jit_compile: XLA-compile the train step.
        pad_to_max_length: pad every batch to `max_seq_length`; by default a classification or
            multiple-choice batch is cut to its longest sequence (`albert_tf.length_batches`: same
            results to float rounding, less work on short texts). Always on under a TPU strategy.
        remat: rematerialize the backbone's transformer layers in the backward
            pass (less memory, about one more forward pass of the encoder per
            step; see `albert_tf.backbone.remat_scope`). Like `jit_compile`, a
            relaunch may change it.
        seed: initialization and data-order seed.
        eval_every: steps between dev evaluations and checkpoints (default: one epoch).
        seeds: runs with seeds `seed`, `seed + 1`, ... in `output_dir/seed-<seed>/`, and a summary.
        progress: Keras progress bars (else one line per interval).
        overwrite: discard a previous run in `output_dir` and start again.
    """

    task: str
    data_dir: str
    output_dir: str
    spm_model: str | None = None
    config: AlbertConfig | None = None
    init_checkpoint: str | None = None
    epochs: int = 3
    learning_rate: float = 2e-5
    warmup_proportion: float = 0.1
    batch_size: int = 32
    eval_batch_size: int | None = None
    max_seq_length: int | None = None
    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = 30
    max_qa_length: int = 128
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
    pad_to_max_length: bool = False
    remat: bool = False
    seed: int = 12345
    eval_every: int | None = None
    seeds: int = 1
    progress: bool = True
    overwrite: bool = False

    def __post_init__(self):
        if self.task not in TASK_NAMES:
            raise ValueError(f"Unknown task {self.task!r}; choose one of {list(TASK_NAMES)}.")
        if (self.config is None) == (self.init_checkpoint is None):
            raise ValueError("Give exactly one of --config (train from scratch) and --init-checkpoint.")
        for name in ("epochs", "batch_size", "doc_stride", "max_query_length", "max_answer_length", "max_qa_length",
                     "seeds"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {name}={getattr(self, name)}")
        for name in ("eval_batch_size", "max_seq_length", "max_train_examples", "max_eval_examples", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"`{name}` must be >= 1 or None. Received: {name}={value}")
        if isinstance(self.max_seq_length, int) and self.max_seq_length < 3:
            raise ValueError(f"--max-seq-length must be >= 3 ([CLS] text [SEP]). Received: {self.max_seq_length}")
        trainer.check_common_settings(self)


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
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
        """Dev scores of the best checkpoint (with `seeds > 1`: their mean, std, min and max)."""
        return self.results["metrics"]


@trainer.restores_dtype_policy
def run_finetuning(settings: FinetuneSettings) -> FinetuneResult:
    """Fine-tunes on `settings.task`, evaluating on the dev set at every interval, and writes in `output_dir`:
    `model/` (the preset of the checkpoint with the best official dev metric: weights, tokenizer, label
    names, task kind, provenance), `last/` (the last checkpoint's preset), `eval_results.json`, `metrics.csv`,
    `curves.png`, TensorBoard `logs/` and predictions (GLUE `{TASK}.tsv` for the test split, SQuAD
    `predictions.json` [+ `null_odds.json`]) of the best model.

    Rerunning after a kill resumes from the last checkpoint; rerunning a finished run returns its results.
    """
    strategy = create_strategy(settings.strategy, settings.tpu)  # before any other TF op
    if settings.seeds > 1:
        return FinetuneResult(trainer.run_seeds(settings, lambda one: _run_one(one, strategy).results),
                              settings.output_dir)
    return _run_one(settings, strategy)


def _run_one(settings: FinetuneSettings, strategy: tf.distribute.Strategy) -> FinetuneResult:
    from albert_tf.finetuning.task_kinds import task_kind
    from albert_tf.tokenizer import AlbertTokenizer

    trainer.check_global_batch(strategy, settings.batch_size)
    if not os.path.isdir(settings.data_dir):
        raise ValueError(f"Data directory not found: {settings.data_dir}")
    tokenizer = AlbertTokenizer.from_serialized_proto(*tokenizer_source(settings.spm_model, settings.init_checkpoint))
    task = task_kind(settings, tokenizer, full_length=settings.pad_to_max_length or isinstance(
        strategy, tf.distribute.TPUStrategy))  # TPUs want static shapes
    run_dir = settings.output_dir if is_chief(strategy) else os.path.join(
        settings.output_dir, "workers", worker_id(strategy))  # only the chief writes the shared outputs
    if settings.overwrite:
        trainer.check_input_survives_overwrite(settings.init_checkpoint, settings.output_dir, "--init")
    with trainer.run_folder(run_dir, "albert finetune", _settings_record(settings), overwrite=settings.overwrite,
                            extra_outputs=(MODEL_PRESET, LAST_PRESET)) as finished:
        if finished is not None:
            return FinetuneResult(finished, settings.output_dir, already_finished=True)
        return FinetuneResult(_train(settings, strategy, tokenizer, task, run_dir), settings.output_dir)


def _train(settings: FinetuneSettings, strategy: tf.distribute.Strategy, tokenizer: Any, task: Any,
           run_dir: str) -> dict[str, Any]:
    from albert_tf.graph_tokenizer import AlbertGraphTokenizer
    from albert_tf.preprocessor import AlbertPreprocessor

    trainer.apply_precision_and_seed(settings)
    with strategy.scope(), remat_scope(settings.remat):
        backbone = _load_backbone(settings)
    if settings.remat and not backbone.remat:
        raise ValueError(remat_refusal(backbone.config))
    _check_compatible(backbone.config, tokenizer, task.max_seq_length, settings)
    train_inputs, train_targets = task.load_train()
    batches = trainer.EpochBatches((train_inputs, train_targets), settings.batch_size, settings.epochs,
                                   settings.seed, trim=task.trim)
    preprocessor = AlbertPreprocessor(
        AlbertGraphTokenizer(tokenizer.serialized_model_proto, name="tokenizer"),
        task.max_seq_length, text_pair=task.text_pair, name="preprocessor",
    )
    with strategy.scope():
        model = task.build_model(backbone, preprocessor)
        model.compile(optimizer=trainer.adamw(settings, batches.total_steps), jit_compile=settings.jit_compile,
                      **task.compile_arguments())
    for message in task.skipped[:5]:
        logger.warning("skipped training example %s", message)
    if task.skipped:
        logger.warning("skipped %d training example(s) in all (listed in %s)", len(task.skipped), RESULTS_FILE)

    provenance = {
        "command": "albert finetune", "task": settings.task, "data_dir": os.path.abspath(settings.data_dir),
        "init": None if settings.init_checkpoint is None else os.path.abspath(settings.init_checkpoint),
        "train_examples": task.num_train_examples, "train_steps": batches.total_steps, "epochs": settings.epochs,
        "seed": settings.seed,
    }
    chief = is_chief(strategy)

    def publish(folder: str, step: int, scores: dict) -> None:
        if chief:
            model.save_to_preset(os.path.join(run_dir, folder), overwrite=True,
                                 provenance={**provenance, "step": step, "dev_metrics": scores})

    loop = trainer.TrainingLoop(
        model, batches, run_dir, settings.eval_every or batches.steps_per_epoch,
        evaluate=lambda: task.evaluate(model, None)[0], best_metric=task.best_metric,
        publish_best=lambda step, scores: publish(MODEL_PRESET, step, scores),
        verbose=1 if settings.progress else 2,
    )
    with warnings.catch_warnings():
        # Span QA reads the sequence output only, so the pooler has no gradient: expected, not a bug.
        warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \['pooler/")
        outcome = loop.run()
    publish(LAST_PRESET, outcome.last["step"], outcome.last["scores"])

    # The best checkpoint writes the predictions and the reported metrics.
    with strategy.scope():
        best = type(model).from_preset(os.path.join(run_dir, MODEL_PRESET))
    scores, prediction_files = task.evaluate(best, run_dir)
    results = {
        "task": settings.task,
        "metrics": scores,
        "best": outcome.best,
        "last": outcome.last,
        "num_train_examples": task.num_train_examples,
        "num_train_features": batches.num_rows,
        "train_steps": outcome.final_step,
        "resumed_from_step": outcome.resumed_from_step,
        "final_train_loss": outcome.rows[-1].get("loss"),
        "skipped_train_examples": task.skipped,
        "prediction_files": prediction_files,
        "settings": _settings_record(settings),
    }
    trainer.finish_run(run_dir, results, title=f"albert finetune {settings.task}")
    return results


def tokenizer_source(spm_model: str | None, preset: str | None,
                     option: str = "--init-checkpoint") -> tuple[bytes, bool, bool, bool, str]:
    """The SentencePiece model bytes and options (for `AlbertTokenizer.from_serialized_proto`):
    `spm_model`, else the tokenizer of the preset folder `preset` (`option` names it in errors)."""
    from albert_tf.preset_format import is_preset, read_preset

    if spm_model is not None:
        if not os.path.isfile(spm_model):
            raise ValueError(f"--spm-model not found: {spm_model}")
        with open(spm_model, "rb") as stream:
            return stream.read(), True, True, True, spm_model
    if preset is not None and is_preset(preset):
        spec = read_preset(preset)
        proto = spec.read_tokenizer("pass --spm-model with the SentencePiece model it was trained with")
        options = spec.tokenizer_options
        return (proto, options.get("lower_case", True), options.get("strip_accents", True),
                options.get("split_digit_comma", True), str(spec.tokenizer_path))
    where = "--config" if preset is None else f"{option} {preset} (not a preset folder)"
    raise ValueError(f"--spm-model is needed with {where}: name the SentencePiece model of the vocabulary.")


def _load_backbone(settings: FinetuneSettings) -> AlbertBackbone:
    if settings.init_checkpoint is None:
        return AlbertBackbone(settings.config)
    return load_backbone_checkpoint(settings.init_checkpoint)


def load_backbone_checkpoint(path: str, option: str = "--init-checkpoint") -> AlbertBackbone:
    """The `AlbertBackbone` of a preset folder, or of the `.keras` file `path` (a backbone, or any model
    with a `backbone`). `option` names the command-line flag in error messages."""
    import albert_tf.pretrainer  # noqa: F401  (registers AlbertPretrainer for loading)
    import albert_tf.tasks  # noqa: F401
    from albert_tf.io_utils import load_keras_file
    from albert_tf.preset_format import is_preset

    if is_preset(path):
        return AlbertBackbone.from_preset(path)
    if not os.path.isfile(path):
        raise ValueError(f"{option} not found: {path} (a preset folder, or a .keras file)")
    loaded = load_keras_file(path, f"{option} Keras model")
    if isinstance(loaded, AlbertBackbone):
        return loaded
    backbone = getattr(loaded, "backbone", None)
    if not isinstance(backbone, AlbertBackbone):
        raise ValueError(f"{path} holds a {type(loaded).__name__} without an AlbertBackbone; pass a backbone.keras "
                         "or a model with a `backbone` (e.g. the pretrainer).")
    return backbone


def _check_compatible(config: AlbertConfig, tokenizer: Any, max_seq_length: int, settings: FinetuneSettings) -> None:
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"The SentencePiece model {tokenizer.source} has {tokenizer.vocab_size} pieces but the "
                         f"model's vocab_size is {config.vocab_size}; use the vocabulary the model was built with.")
    if max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max-seq-length {max_seq_length} exceeds the model's max_position_embeddings "
                         f"({config.max_position_embeddings}).")


# Settings that may change between relaunches of one run: where it runs, how it shows progress.
_NOT_RECORDED = ("output_dir", "strategy", "tpu", "jit_compile", "pad_to_max_length", "remat", "eval_batch_size",
                 "progress", "overwrite", "seeds")


def _settings_record(settings: FinetuneSettings) -> dict[str, Any]:
    return trainer.settings_record(settings, _NOT_RECORDED, paths=("data_dir", "spm_model", "init_checkpoint"))
