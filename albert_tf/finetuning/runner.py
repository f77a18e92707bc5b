"""`run_finetuning`: read a task, train with AdamW under `tf.distribute`, evaluate, write results atomically."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import warnings
from typing import Any

import keras
import tensorflow as tf

from albert_tf.backbone import AlbertBackbone
from albert_tf.config import AlbertConfig
from albert_tf.finetuning.glue import GLUE_TASKS
from albert_tf.io_utils import atomic_write_text
from albert_tf.training.pretraining import DTYPES
from albert_tf.training.strategy import create_strategy, is_chief

TASK_NAMES = (*GLUE_TASKS, "squad1", "squad2", "race", "csv", "tsv")
RESULTS_FILE = "eval_results.json"


@dataclasses.dataclass(frozen=True)
class FinetuneSettings:
    """Everything a fine-tuning run needs.

    Args:
        task: one of `TASK_NAMES`.
        data_dir: the task's folder (GLUE `train.tsv`/`dev.tsv`[/`test.tsv`],
            SQuAD `train-v1.1.json`/`dev-v1.1.json` (or `-v2.0`), RACE
            `train|dev|test/{high,middle}/*.txt`, or `train|dev|test.csv/.tsv`).
        output_dir: where results, predictions and the model preset (`model/`) go.
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
        seed: initialization and shuffling seed.
        progress: Keras progress bars (else one line per epoch).
        overwrite: replace a model preset already in `output_dir`.
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
    seed: int = 12345
    progress: bool = True
    overwrite: bool = False

    def __post_init__(self):
        if self.task not in TASK_NAMES:
            raise ValueError(f"Unknown task {self.task!r}; choose one of {list(TASK_NAMES)}.")
        if (self.config is None) == (self.init_checkpoint is None):
            raise ValueError("Give exactly one of --config (train from scratch) and --init-checkpoint.")
        for name in ("epochs", "batch_size", "doc_stride", "max_query_length", "max_answer_length", "max_qa_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {name}={getattr(self, name)}")
        for name in ("eval_batch_size", "max_seq_length", "max_train_examples", "max_eval_examples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"`{name}` must be >= 1 or None. Received: {name}={value}")
        if not 0.0 <= self.warmup_proportion <= 1.0:
            raise ValueError(f"`warmup_proportion` must be in [0, 1]. Received: {self.warmup_proportion}")
        if self.learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate}")
        if self.dtype not in DTYPES:
            raise ValueError(f"`dtype` must be one of {DTYPES}. Received: dtype={self.dtype!r}")


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    """What a finished run reports: the contents of `eval_results.json` and where things were written."""

    results: dict[str, Any]
    output_dir: str

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        return self.results["metrics"]


def run_finetuning(settings: FinetuneSettings) -> FinetuneResult:
    """Fine-tunes on `settings.task`, evaluates on its dev set(s) and writes, in `output_dir`:
    `eval_results.json`, predictions (GLUE `{TASK}.tsv` for the test split,
    SQuAD `predictions.json` [+ `null_odds.json`]) and `model/`, the preset of
    the fine-tuned model (weights, tokenizer, label names, task kind, provenance).
    """
    from albert_tf.finetuning.task_kinds import task_kind
    from albert_tf.graph_tokenizer import AlbertGraphTokenizer
    from albert_tf.optimization import create_optimizer
    from albert_tf.preprocessor import AlbertPreprocessor
    from albert_tf.tokenizer import AlbertTokenizer

    strategy = create_strategy(settings.strategy, settings.tpu)  # before any other TF op
    replicas = strategy.num_replicas_in_sync
    if settings.batch_size % replicas:
        raise ValueError(f"--batch-size {settings.batch_size} is not divisible by the {replicas} replicas of "
                         f"the {type(strategy).__name__}; use a multiple of {replicas}.")
    if not os.path.isdir(settings.data_dir):
        raise ValueError(f"Data directory not found: {settings.data_dir}")
    preset_dir = os.path.join(settings.output_dir, MODEL_PRESET)
    if os.path.exists(preset_dir) and not settings.overwrite:
        raise ValueError(f"{preset_dir} already holds a fine-tuned model; choose another --output-dir, or pass "
                         "--overwrite to replace it.")
    tokenizer = AlbertTokenizer.from_serialized_proto(*_tokenizer_source(settings))
    task = task_kind(settings, tokenizer)
    keras.config.set_dtype_policy(settings.dtype)
    keras.utils.set_random_seed(settings.seed)

    with strategy.scope():
        backbone = _load_backbone(settings)
    _check_compatible(backbone.config, tokenizer, task.max_seq_length, settings)
    train_inputs, train_targets = task.load_train()
    num_features = len(train_inputs["input_word_ids"])
    steps_per_epoch = math.ceil(num_features / settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    dataset = (
        tf.data.Dataset.from_tensor_slices((train_inputs, train_targets))
        .shuffle(num_features, seed=settings.seed, reshuffle_each_iteration=True)
        .batch(settings.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    preprocessor = AlbertPreprocessor(
        AlbertGraphTokenizer(tokenizer.serialized_model_proto, name="tokenizer"),
        task.max_seq_length, text_pair=task.text_pair, name="preprocessor",
    )
    with strategy.scope():
        model = task.build_model(backbone, preprocessor)
        optimizer = create_optimizer("adamw", learning_rate=settings.learning_rate,
                                     warmup_steps=int(settings.warmup_proportion * total_steps),
                                     total_steps=total_steps, weight_decay=settings.weight_decay)
        model.compile(optimizer=optimizer, jit_compile=settings.jit_compile, **task.compile_arguments())
    for message in task.skipped[:5]:
        print(f"skipped training example {message}")
    if task.skipped:
        print(f"skipped {len(task.skipped)} training example(s) in all (listed in {RESULTS_FILE})")
    with warnings.catch_warnings():
        # Span QA reads the sequence output only, so the pooler has no gradient: expected, not a bug.
        warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \['pooler/")
        history = model.fit(dataset, epochs=settings.epochs, shuffle=False,  # the dataset shuffles itself
                            verbose=1 if settings.progress else 2)
    for name, values in history.history.items():
        if any(math.isnan(value) for value in values):
            raise ValueError(f"{name} became NaN during training; lower --learning-rate or use float32.")

    os.makedirs(settings.output_dir, exist_ok=True)
    scores, prediction_files = task.evaluate(model, settings.output_dir)
    results = {
        "task": settings.task,
        "metrics": scores,
        "num_train_examples": task.num_train_examples,
        "num_train_features": num_features,
        "train_steps": total_steps,
        "final_train_loss": float(history.history["loss"][-1]),
        "skipped_train_examples": task.skipped,
        "prediction_files": prediction_files,
        "settings": _settings_record(settings),
    }
    if is_chief(strategy):
        provenance = {
            "command": "albert finetune", "task": settings.task, "data_dir": os.path.abspath(settings.data_dir),
            "init": None if settings.init_checkpoint is None else os.path.abspath(settings.init_checkpoint),
            "train_examples": task.num_train_examples, "train_steps": total_steps, "epochs": settings.epochs,
            "seed": settings.seed, "dev_metrics": scores,
        }
        model.save_to_preset(preset_dir, provenance=provenance, overwrite=settings.overwrite)
        atomic_write_text(os.path.join(settings.output_dir, RESULTS_FILE), json.dumps(results, indent=2) + "\n")
    return FinetuneResult(results, settings.output_dir)


def _tokenizer_source(settings: FinetuneSettings) -> tuple[bytes, bool, bool, bool, str]:
    """The SentencePiece model bytes and options: `--spm-model`, else the init preset's tokenizer."""
    from albert_tf.preset_format import is_preset, read_preset

    if settings.spm_model is not None:
        if not os.path.isfile(settings.spm_model):
            raise ValueError(f"--spm-model not found: {settings.spm_model}")
        with open(settings.spm_model, "rb") as stream:
            return stream.read(), True, True, True, settings.spm_model
    init = settings.init_checkpoint
    if init is not None and is_preset(init):
        spec = read_preset(init)
        path = spec.require_tokenizer("pass --spm-model with the SentencePiece model it was trained with")
        options = spec.tokenizer_options
        return (path.read_bytes(), options.get("lower_case", True), options.get("strip_accents", True),
                options.get("split_digit_comma", True), str(path))
    where = "--config" if init is None else f"--init-checkpoint {init} (not a preset folder)"
    raise ValueError(f"--spm-model is needed with {where}: name the SentencePiece model of the vocabulary.")


def _load_backbone(settings: FinetuneSettings) -> AlbertBackbone:
    if settings.init_checkpoint is None:
        return AlbertBackbone(settings.config)
    return load_backbone_checkpoint(settings.init_checkpoint)


# The fine-tuned model's preset folder inside `output_dir`.
MODEL_PRESET = "model"


def load_backbone_checkpoint(path: str, option: str = "--init-checkpoint") -> AlbertBackbone:
    """The `AlbertBackbone` in the `.keras` file `path`: a backbone, or any model with a `backbone`.

    `option` names the command-line flag in error messages.
    """
    import albert_tf.pretrainer  # noqa: F401  (registers AlbertPretrainer for loading)
    import albert_tf.tasks  # noqa: F401
    from albert_tf.preset_format import is_preset

    if is_preset(path):
        return AlbertBackbone.from_preset(path)
    if not os.path.isfile(path):
        raise ValueError(f"{option} not found: {path} (a preset folder, or a .keras file)")
    loaded = keras.saving.load_model(path, compile=False)
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


def _settings_record(settings: FinetuneSettings) -> dict[str, Any]:
    record = {field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)}
    record["config"] = None if settings.config is None else settings.config.to_dict()
    record["labels"] = list(settings.labels) if settings.labels else None
    return record


def save_model_atomically(model: keras.Model, path: str) -> None:
    """Saves `model` to the `.keras` file `path` through a temporary file and a rename."""
    # Keras writes .keras files in place; write beside the target, then rename.
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as scratch:
        temporary = os.path.join(scratch, os.path.basename(path))
        model.save(temporary)
        shutil.move(temporary, path)
