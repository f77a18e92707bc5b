"""How each kind of task is read, trained and scored: classification, span QA, multiple choice.

A `TaskKind` turns a data folder into training arrays, builds its
`albert_tf.tasks` model and loss, returns its official metrics (at every
evaluation during training, with `output_dir=None`) and, at the end, writes its
predictions. `runner.run_finetuning` does the rest.
"""

from __future__ import annotations

import abc
import os
from typing import Any

import keras
import numpy as np

from albert_tf.backbone import AlbertBackbone
from albert_tf.finetuning import metrics, race, squad
from albert_tf.finetuning.csv_task import CsvTask
from albert_tf.finetuning.features import (
    TextExample, encode_choice_examples, encode_labels, encode_text_examples,
)
from albert_tf.finetuning.glue import GLUE_TASKS, GlueTask
from albert_tf.io_utils import atomic_write_text
from albert_tf.length_batches import for_model, predict_by_length
from albert_tf.preprocessor import AlbertPreprocessor
from albert_tf.tasks import AlbertClassifier, AlbertMultipleChoice, AlbertSpanQA
from albert_tf.tokenizer import AlbertTokenizer

Arrays = dict[str, np.ndarray]


class TaskKind(abc.ABC):
    """One fine-tuning task: data, model head, loss, evaluation.

    Args:
        settings: the run's `FinetuneSettings`.
        tokenizer: the model's tokenizer.
        full_length: every batch `max_seq_length` long (`--pad-to-max-length`; TPUs, which want
            static shapes), none cut to its longest sequence.

    Attributes:
        trim: how training and prediction batches are cut to their longest sequence
            (`albert_tf.length_batches`), or None: every batch is `max_seq_length` long (span QA,
            whose outputs have a sequence axis, or `full_length`).
        num_train_examples: examples read (after `max_train_examples`; set by `load_train`).
        skipped: messages about training examples left out (reported, never silent).
    """

    default_max_seq_length = 128
    # Whether the kind's model reads only pooled positions, so that padding may be cut from its batches.
    pools_sequence = AlbertClassifier.pools_sequence

    def __init__(self, settings: Any, tokenizer: AlbertTokenizer, full_length: bool = False):
        self.settings = settings
        self.tokenizer = tokenizer
        self.trim = None if full_length or not self.pools_sequence else for_model(settings.jit_compile)
        self.num_train_examples = 0
        self.skipped: list[str] = []
        # Evaluation inputs, encoded once and reused at every evaluation.
        self._encoded: dict[str, Any] = {}

    @property
    def max_seq_length(self) -> int:
        return self.settings.max_seq_length or self.default_max_seq_length

    @abc.abstractmethod
    def load_train(self) -> tuple[Arrays, Any]:
        """Training inputs and targets (checks the evaluation files exist too, before any training)."""

    # Whether the model reads text pairs (the preprocessor's `text_pair`).
    text_pair = False

    @abc.abstractmethod
    def build_model(self, backbone: AlbertBackbone, preprocessor: AlbertPreprocessor | None = None) -> keras.Model:
        """The task model over `backbone`, with the preprocessor and label names it will carry."""

    @abc.abstractmethod
    def compile_arguments(self) -> dict[str, Any]:
        """`loss`, `loss_weights` and `metrics` for `Model.compile`."""

    @property
    @abc.abstractmethod
    def best_metric(self) -> tuple[str, str]:
        """`(split, metric)`: the official dev metric that chooses the best checkpoint (higher is better)."""

    @abc.abstractmethod
    def evaluate(self, model: keras.Model, output_dir: str | None) -> tuple[dict[str, dict[str, float]], list[str]]:
        """Metrics per evaluation split, and the prediction files written to `output_dir`
        (None: dev metrics only, nothing written, as at each evaluation during training)."""

    def _predict(self, model: keras.Model, inputs: Arrays, verbose: bool = False):
        batch_size = self.settings.eval_batch_size or self.settings.batch_size
        verbosity = 1 if verbose and self.settings.progress else 0
        if self.trim is not None:
            return predict_by_length(model, inputs, batch_size, trim=self.trim, verbose=verbosity)
        return model.predict(inputs, batch_size=batch_size, verbose=verbosity)

    def _cached(self, key: str, encode):
        if key not in self._encoded:
            self._encoded[key] = encode()
        return self._encoded[key]

    def _cap_train(self, examples: list) -> list:
        limit = self.settings.max_train_examples
        return examples[:limit] if limit else examples

    def _cap_eval(self, examples: list) -> list:
        limit = self.settings.max_eval_examples
        return examples[:limit] if limit else examples


class ClassificationKind(TaskKind):
    """GLUE tasks and generic CSV/TSV classification (`AlbertClassifier`; STS-B is regression)."""

    def __init__(self, settings: Any, tokenizer: AlbertTokenizer, full_length: bool = False):
        super().__init__(settings, tokenizer, full_length)
        self.glue: GlueTask | None = GLUE_TASKS.get(settings.task)
        self.csv: CsvTask | None = None
        if self.glue is None:
            if not settings.label_column or not settings.text_column:
                raise ValueError(f"--task {settings.task} needs --text-column and --label-column (header names).")
            self.csv = CsvTask("," if settings.task == "csv" else "\t", settings.text_column,
                               settings.label_column, settings.text_pair_column, settings.labels)
        self.label_list: tuple[str, ...] | None = self.glue.label_list if self.glue else None

    def load_train(self) -> tuple[Arrays, np.ndarray]:
        data_dir = self.settings.data_dir
        if self.glue:
            examples = self.glue.read(data_dir, self.glue.train_file, labelled=True)
            for split in self.glue.splits:  # fail before training, not after: missing file or bad label
                if not os.path.isfile(os.path.join(data_dir, split.dev_file)):
                    raise ValueError(f"Data file not found: {os.path.join(data_dir, split.dev_file)} "
                                     f"(the {self.glue.name} dev set).")
                self.glue.read(data_dir, split.dev_file, labelled=True)
        else:
            examples, self.label_list = self.csv.read_train(data_dir)
            if not os.path.isfile(self.csv.path(data_dir, "dev")):
                raise ValueError(f"Data file not found: {self.csv.path(data_dir, 'dev')} (the dev set).")
            self.csv.read(data_dir, "dev", self.label_list)
        examples = self._cap_train(examples)
        self.num_train_examples = len(examples)
        inputs = encode_text_examples(examples, self.tokenizer, self.max_seq_length, "train features",
                                      progress=self.settings.progress)
        return inputs, encode_labels(examples, self.label_list)

    @property
    def num_outputs(self) -> int:
        return 1 if self.label_list is None else len(self.label_list)

    @property
    def text_pair(self) -> bool:
        return self.glue.text_pair if self.glue else self.settings.text_pair_column is not None

    @property
    def model_labels(self) -> list[str] | None:
        """Label names for the model: GLUE's readable names, or the csv/tsv label strings."""
        if self.glue:
            return self.glue.model_labels
        return None if self.label_list is None else list(self.label_list)

    def build_model(self, backbone: AlbertBackbone, preprocessor: AlbertPreprocessor | None = None) -> keras.Model:
        return AlbertClassifier(backbone, self.num_outputs, dropout=self.settings.dropout, preprocessor=preprocessor,
                                labels=self.model_labels if self.num_outputs > 1 else None)

    def compile_arguments(self) -> dict[str, Any]:
        if self.label_list is None:
            return {"loss": keras.losses.MeanSquaredError()}
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "metrics": ["accuracy"]}

    @property
    def best_metric(self) -> tuple[str, str]:
        if self.glue:
            return self.glue.splits[0].name, self.glue.metric_names[0]
        return "dev", "accuracy"

    def _scores(self, model: keras.Model, examples: list[TextExample], description: str) -> np.ndarray:
        inputs = self._cached(description, lambda: encode_text_examples(examples, self.tokenizer,
                                                                        self.max_seq_length, description,
                                                                        progress=self.settings.progress))
        logits = self._predict(model, inputs)
        return logits[:, 0] if self.label_list is None else np.argmax(logits, axis=-1)

    def _label_strings(self, predictions: np.ndarray) -> list[str]:
        if self.glue:
            return self.glue.prediction_strings(predictions)
        return [self.label_list[int(index)] for index in predictions]

    def evaluate(self, model: keras.Model, output_dir: str | None) -> tuple[dict[str, dict[str, float]], list[str]]:
        data_dir, results, written = self.settings.data_dir, {}, []
        if self.glue:
            splits = [(s.name, s.dev_file, s.test_file, s.submission_file) for s in self.glue.splits]
        else:
            splits = [("dev", None, None, "predictions.tsv")]
        for name, dev_file, test_file, submission in splits:
            dev = self._cached(f"{name} examples", lambda: self._cap_eval(
                self.glue.read(data_dir, dev_file, labelled=True) if self.glue
                else self.csv.read(data_dir, "dev", self.label_list)))
            labels = encode_labels(dev, self.label_list)
            predictions = self._scores(model, dev, f"{name} features")
            if self.glue:
                results[name] = self.glue.compute_metrics(labels, predictions)
            else:
                results[name] = {"accuracy": metrics.accuracy(labels, predictions)}
            test_path = os.path.join(data_dir, test_file) if test_file else self.csv.path(data_dir, "test")
            if output_dir is not None and os.path.isfile(test_path):
                if self.glue:
                    test = self.glue.read(data_dir, test_file, labelled=False)
                else:
                    test = self.csv.read(data_dir, "test", self.label_list)
                strings = self._label_strings(self._scores(model, test, f"{name} test features"))
                lines = ["index\tprediction"] + [f"{ex.index}\t{text}" for ex, text in zip(test, strings)]
                atomic_write_text(os.path.join(output_dir, submission), "\n".join(lines) + "\n")
                written.append(submission)
        return results, written


class SpanKind(TaskKind):
    """SQuAD v1.1 and v2.0 (`AlbertSpanQA`): `train-v1.1.json`/`dev-v1.1.json` (or `-v2.0`) in the data dir."""

    default_max_seq_length = 384
    pools_sequence = AlbertSpanQA.pools_sequence  # start and end logits over every position

    def __init__(self, settings: Any, tokenizer: AlbertTokenizer, full_length: bool = False):
        super().__init__(settings, tokenizer, full_length)
        self.version_2 = settings.task == "squad2"

    def _path(self, split: str) -> str:
        version = "v2.0" if self.version_2 else "v1.1"
        candidates = [f"{split}-{version}.json", f"{split}.json"]
        for name in candidates:
            path = os.path.join(self.settings.data_dir, name)
            if os.path.isfile(path):
                return path
        raise ValueError(f"No SQuAD {split} file in {self.settings.data_dir}: expected one of {candidates}.")

    def _features(self, examples: list, is_training: bool, description: str) -> squad.SquadFeatures:
        s = self.settings
        return squad.create_squad_features(examples, self.tokenizer, self.max_seq_length, s.doc_stride,
                                           s.max_query_length, is_training, description, progress=s.progress)

    def load_train(self) -> tuple[Arrays, dict[str, np.ndarray]]:
        data = squad.read_squad(self._path("train"), is_training=True, version_2=self.version_2)
        self._path("dev")
        self.skipped = list(data.skipped)
        examples = self._cap_train(data.examples)
        if not examples:
            raise ValueError(f"No usable training questions in {self._path('train')}; skipped: {self.skipped[:3]}")
        features = self._features(examples, True, "train features")
        self.skipped += [f"{qid}: context could not be aligned to its SentencePiece pieces"
                         for qid in features.unaligned]
        self.num_train_examples = len(examples)
        targets = {"start_logits": features.start_positions, "end_logits": features.end_positions}
        return features.inputs, targets

    text_pair = True

    def build_model(self, backbone: AlbertBackbone, preprocessor: AlbertPreprocessor | None = None) -> keras.Model:
        return AlbertSpanQA(backbone, preprocessor=preprocessor, version_2=self.version_2)

    def compile_arguments(self) -> dict[str, Any]:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # The mean of the start and end cross-entropies, as BERT/ALBERT.
        return {"loss": {"start_logits": loss, "end_logits": loss},
                "loss_weights": {"start_logits": 0.5, "end_logits": 0.5}}

    best_metric = ("dev", "f1")

    def evaluate(self, model: keras.Model, output_dir: str | None) -> tuple[dict[str, dict[str, float]], list[str]]:
        import json

        def read():
            data = squad.read_squad(self._path("dev"), is_training=False, version_2=self.version_2)
            examples = self._cap_eval(data.examples)
            return data, examples, self._features(examples, False, "dev features")

        data, examples, features = self._cached("dev", read)
        outputs = self._predict(model, features.inputs)
        predictions, null_odds = squad.postprocess(
            examples, features, outputs["start_logits"], outputs["end_logits"], self.version_2,
            max_answer_length=self.settings.max_answer_length,
        )
        dataset = restrict_squad_dataset(data.dataset, {example.qas_id for example in examples})
        if self.version_2:
            scores = metrics.squad_v2_scores(dataset, predictions, null_odds)
        else:
            scores = metrics.squad_v1_scores(dataset, predictions)
        if output_dir is None:
            return {"dev": scores}, []
        atomic_write_text(os.path.join(output_dir, "predictions.json"), json.dumps(predictions, indent=2) + "\n")
        written = ["predictions.json"]
        if self.version_2:
            atomic_write_text(os.path.join(output_dir, "null_odds.json"), json.dumps(null_odds, indent=2) + "\n")
            written.append("null_odds.json")
        return {"dev": scores}, written


def restrict_squad_dataset(dataset: list[dict[str, Any]], question_ids: set[str]) -> list[dict[str, Any]]:
    """The SQuAD `data` list with only `question_ids` (so a capped evaluation does not count the rest as wrong)."""
    articles = []
    for article in dataset:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            qas = [qa for qa in paragraph["qas"] if qa["id"] in question_ids]
            if qas:
                paragraphs.append({**paragraph, "qas": qas})
        if paragraphs:
            articles.append({**article, "paragraphs": paragraphs})
    return articles


class ChoiceKind(TaskKind):
    """RACE (`AlbertMultipleChoice` over 4 options): accuracy on dev and test."""

    default_max_seq_length = 512
    pools_sequence = AlbertMultipleChoice.pools_sequence

    def _encode(self, examples: list, description: str) -> tuple[Arrays, np.ndarray]:
        inputs = encode_choice_examples(examples, self.tokenizer, self.max_seq_length,
                                        self.settings.max_qa_length, description,
                                        progress=self.settings.progress)
        return inputs, np.asarray([example.label for example in examples], np.int32)

    def load_train(self) -> tuple[Arrays, np.ndarray]:
        examples = self._cap_train(race.read_race_split(self.settings.data_dir, "train"))
        race.read_race_split(self.settings.data_dir, "dev")
        self.num_train_examples = len(examples)
        return self._encode(examples, "train features")

    text_pair = True

    def build_model(self, backbone: AlbertBackbone, preprocessor: AlbertPreprocessor | None = None) -> keras.Model:
        return AlbertMultipleChoice(backbone, race.NUM_CHOICES, dropout=self.settings.dropout,
                                    preprocessor=preprocessor, labels=["A", "B", "C", "D"][: race.NUM_CHOICES])

    def compile_arguments(self) -> dict[str, Any]:
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "metrics": ["accuracy"]}

    best_metric = ("dev", "accuracy")

    def evaluate(self, model: keras.Model, output_dir: str | None) -> tuple[dict[str, dict[str, float]], list[str]]:
        results = {}
        for split in ("dev", "test"):
            if split == "test" and (output_dir is None
                                    or not os.path.isdir(os.path.join(self.settings.data_dir, "test"))):
                continue
            inputs, labels = self._cached(split, lambda: self._encode(
                self._cap_eval(race.read_race_split(self.settings.data_dir, split)), f"{split} features"))
            predictions = np.argmax(self._predict(model, inputs), axis=-1)
            results[split] = {"accuracy": metrics.accuracy(labels, predictions)}
        return results, []


def task_kind(settings: Any, tokenizer: AlbertTokenizer, full_length: bool = False) -> TaskKind:
    """The `TaskKind` for `settings.task` (`full_length`: see `TaskKind`)."""
    if settings.task in ("squad1", "squad2"):
        return SpanKind(settings, tokenizer, full_length)
    if settings.task == "race":
        return ChoiceKind(settings, tokenizer, full_length)
    return ClassificationKind(settings, tokenizer, full_length)

