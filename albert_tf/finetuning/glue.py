"""The GLUE tasks: file layout, labels, metrics and submission file of each.

The layouts are those of the GLUE download (`download_glue_data.py`) that the
original BERT/ALBERT `run_classifier.py` read; the label lists are those of
tf-models-official's `classifier_data_lib` processors (a test checks that).
Those processors themselves read TFDS (network) in tf-models 2.20, not the
TSVs, so the files are read here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Mapping, Sequence

import numpy as np

from albert_tf.finetuning import metrics
from albert_tf.finetuning.features import TextExample
from albert_tf.finetuning.tsv import Columns, read_examples


@dataclasses.dataclass(frozen=True)
class EvalSplit:
    """A labelled evaluation file and, when the GLUE test set has a matching file, its submission name."""

    name: str
    dev_file: str
    test_file: str
    submission_file: str


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """One GLUE task.

    Args:
        name: the `--task` name.
        label_list: label strings in class-id order, or None for regression (STS-B).
        train_columns: layout of train and dev files.
        test_columns: layout of test files.
        splits: evaluation splits (two for MNLI: matched and mismatched).
        metric_names: the official metrics, computed by `compute_metrics`.
    """

    name: str
    label_list: tuple[str, ...] | None
    train_columns: Columns
    test_columns: Columns
    splits: tuple[EvalSplit, ...]
    metric_names: tuple[str, ...] = ("accuracy",)
    train_file: str = "train.tsv"
    # What the classes mean, for people (the model's label names); None: `label_list`.
    display_labels: tuple[str, ...] | None = None

    @property
    def model_labels(self) -> list[str] | None:
        """The label names a fine-tuned model carries (None for regression)."""
        names = self.display_labels or self.label_list
        return None if names is None else list(names)

    @property
    def text_pair(self) -> bool:
        return self.train_columns.text_b is not None

    @property
    def is_regression(self) -> bool:
        return self.label_list is None

    @property
    def num_outputs(self) -> int:
        return 1 if self.label_list is None else len(self.label_list)

    def read(self, data_dir: str, file_name: str, labelled: bool) -> list[TextExample]:
        """The examples of `data_dir/file_name` (a labelled train/dev file, or a test file)."""
        return read_examples(
            os.path.join(data_dir, file_name), self.train_columns if labelled else self.test_columns,
            self.label_list, regression=self.is_regression,
            fix_hint=f" (the {self.name} layout of the GLUE download is expected)",
        )

    def compute_metrics(self, labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
        """The official metrics from label ids (or scores) and predicted ids (or scores)."""
        return {name: METRIC_FUNCTIONS[name](labels, predictions) for name in self.metric_names}

    def prediction_strings(self, predictions: np.ndarray) -> list[str]:
        """Predictions as the GLUE server expects them: label strings, or scores clipped to [0, 5]."""
        if self.label_list is None:
            return [f"{value:.3f}" for value in np.clip(predictions, 0.0, 5.0)]
        return [self.label_list[int(index)] for index in predictions]


METRIC_FUNCTIONS: Mapping[str, Callable[[Sequence, Sequence], float]] = {
    "accuracy": metrics.accuracy,
    "f1": metrics.binary_f1,
    "matthews_corrcoef": metrics.matthews_corrcoef,
    "pearson": metrics.pearson,
    "spearman": metrics.spearman,
}


def _pair(a: str, b: str, label: str, index: str = "index", test_a: str | None = None,
          test_b: str | None = None) -> tuple[Columns, Columns]:
    return Columns(a, b, label), Columns(test_a or a, test_b or b, None, index)


def _one_split(submission: str) -> tuple[EvalSplit, ...]:
    return (EvalSplit("dev", "dev.tsv", "test.tsv", submission),)


_BINARY = ("0", "1")
_ENTAILMENT = ("entailment", "not_entailment")

GLUE_TASKS: Mapping[str, GlueTask] = {
    task.name: task
    for task in (
        # CoLA train/dev have no header: source, label, original mark, sentence.
        GlueTask("cola", _BINARY, Columns(3, None, 1, header=False), Columns("sentence", None, None, "index"),
                 _one_split("CoLA.tsv"), ("matthews_corrcoef", "accuracy"),
                 display_labels=("unacceptable", "acceptable")),
        GlueTask("sst2", _BINARY, Columns("sentence", None, "label"), Columns("sentence", None, None, "index"),
                 _one_split("SST-2.tsv"), display_labels=("negative", "positive")),
        GlueTask("mrpc", _BINARY, *_pair("#1 String", "#2 String", "Quality"), _one_split("MRPC.tsv"),
                 ("accuracy", "f1"), display_labels=("not_equivalent", "equivalent")),
        GlueTask("stsb", None, *_pair("sentence1", "sentence2", "score"), _one_split("STS-B.tsv"),
                 ("pearson", "spearman")),
        GlueTask("qqp", _BINARY, *_pair("question1", "question2", "is_duplicate", index="id"),
                 _one_split("QQP.tsv"), ("accuracy", "f1"), display_labels=("not_duplicate", "duplicate")),
        GlueTask("mnli", ("contradiction", "entailment", "neutral"),
                 *_pair("sentence1", "sentence2", "gold_label"),
                 (EvalSplit("dev_matched", "dev_matched.tsv", "test_matched.tsv", "MNLI-m.tsv"),
                  EvalSplit("dev_mismatched", "dev_mismatched.tsv", "test_mismatched.tsv", "MNLI-mm.tsv"))),
        GlueTask("qnli", _ENTAILMENT, *_pair("question", "sentence", "label"), _one_split("QNLI.tsv")),
        GlueTask("rte", _ENTAILMENT, *_pair("sentence1", "sentence2", "label"), _one_split("RTE.tsv")),
        GlueTask("wnli", _BINARY, *_pair("sentence1", "sentence2", "label"), _one_split("WNLI.tsv"),
                 display_labels=("not_entailment", "entailment")),
    )
}
