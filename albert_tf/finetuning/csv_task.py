"""A classification task from any CSV/TSV files with named columns (`--task csv` / `--task tsv`)."""

from __future__ import annotations

import dataclasses
import os

from albert_tf.finetuning.features import TextExample
from albert_tf.finetuning.tsv import Columns, read_examples


@dataclasses.dataclass(frozen=True)
class CsvTask:
    """Classification on `train`/`dev` (and optional `test`) files with a header line.

    Files are `DATA_DIR/{train,dev,test}.csv` (or `.tsv`). The label set is
    `labels` when given, else the sorted distinct labels of the train file;
    a dev label outside it is an error.

    Args:
        delimiter: "," (csv, quoted fields) or "\\t" (tsv, unquoted as GLUE).
        text_column: header name of the first text.
        label_column: header name of the label.
        text_pair_column: header name of the second text, if any.
        labels: the label strings in class-id order, to fix the set and order.
    """

    delimiter: str
    text_column: str
    label_column: str
    text_pair_column: str | None = None
    labels: tuple[str, ...] | None = None

    @property
    def extension(self) -> str:
        return "csv" if self.delimiter == "," else "tsv"

    def path(self, data_dir: str, split: str) -> str:
        return os.path.join(data_dir, f"{split}.{self.extension}")

    def read(self, data_dir: str, split: str, label_list: tuple[str, ...] | None) -> list[TextExample]:
        """Examples of `split` (`train`, `dev` with labels; `test` without)."""
        labelled = split != "test"
        columns = Columns(self.text_column, self.text_pair_column, self.label_column if labelled else None)
        hint = " (set --text-column, --text-pair-column and --label-column to the header names)"
        return read_examples(self.path(data_dir, split), columns, label_list, delimiter=self.delimiter,
                             quoting=self.delimiter == ",", fix_hint=hint)

    def read_train(self, data_dir: str) -> tuple[list[TextExample], tuple[str, ...]]:
        """The train examples and the label list."""
        examples = self.read(data_dir, "train", self.labels)
        labels = self.labels or tuple(sorted({str(example.label) for example in examples}))
        if len(labels) < 2:
            raise ValueError(f"{self.path(data_dir, 'train')}: the label column {self.label_column!r} has "
                             f"{len(labels)} distinct value(s) {list(labels)}; classification needs at least 2.")
        return examples, labels
