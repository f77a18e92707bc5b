"""Answers for rows of text from any task model: what `albert predict` prints.

A row is a tuple of strings: `(text,)` for a single-text classifier or token
classifier, `(text_a, text_b)` for a text-pair classifier, `(question,
context)` for span QA, `(context, choice_1, ..., choice_C)` for multiple choice.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

import keras

from albert_tf.tasks import AlbertClassifier, AlbertMultipleChoice, AlbertSpanQA, AlbertTokenClassifier

Row = Sequence[str]


def fields_per_row(model: keras.Model) -> int | None:
    """How many strings one input row holds for `model` (None: any number above one, multiple choice)."""
    if isinstance(model, AlbertSpanQA):
        return 2
    if isinstance(model, AlbertMultipleChoice):
        return 1 + model.num_choices
    if isinstance(model, (AlbertClassifier, AlbertTokenClassifier)):
        return 2 if model.preprocessor is not None and model.preprocessor.text_pair else 1
    raise ValueError(f"A {type(model).__name__} gives no text answers; predict with a classifier, span QA, "
                     "multiple-choice or token-classifier preset.")


def describe_row_format(model: keras.Model) -> str:
    """The expected row layout, for error messages."""
    if isinstance(model, AlbertSpanQA):
        return "question<TAB>context"
    if isinstance(model, AlbertMultipleChoice):
        return "context" + "".join(f"<TAB>choice_{index + 1}" for index in range(model.num_choices))
    return "text_a<TAB>text_b" if fields_per_row(model) == 2 else "one text per line (no tab)"


def check_rows(model: keras.Model, rows: Sequence[Row], where: str) -> None:
    """Every row must have the model's number of fields; the error names the first bad row."""
    expected = fields_per_row(model)
    for number, row in enumerate(rows, start=1):
        if len(row) != expected:
            raise ValueError(f"{where} row {number} has {len(row)} field(s) but this {type(model).__name__} takes "
                             f"{expected}: {describe_row_format(model)}.")


def predict_rows(model: keras.Model, rows: Sequence[Row], batch_size: int = 32, *, return_token_counts: bool = False
                 ) -> list[dict[str, Any]] | tuple[list[dict[str, Any]], list[int | None]]:
    """One answer dict per row (see the task models' `classify`, `answer`, `choose`, `tag`).

    With `return_token_counts=True` it returns `(answers, token_counts)`: per
    row, the tokens of its longest packed sequence before truncation, special
    tokens included (for multiple choice, the longest `[CLS] context [SEP]
    choice [SEP]`), from the tokenization that made the model's inputs; a row
    was truncated when its count is above `model.preprocessor.sequence_length`.
    Span QA reads long contexts in windows, so its rows are never cut: None.
    """
    if not rows:
        return ([], []) if return_token_counts else []
    counts: list[Any]
    if isinstance(model, AlbertSpanQA):
        questions, contexts = zip(*rows)
        answers, counts = model.answer(list(questions), list(contexts)), [None] * len(rows)
    elif isinstance(model, AlbertMultipleChoice):
        answers, counts = model.choose([row[0] for row in rows], [list(row[1:]) for row in rows],
                                       batch_size=batch_size, return_token_counts=True)
        counts = [max(per_choice) for per_choice in counts]
    elif isinstance(model, AlbertTokenClassifier):
        tags, counts = model.tag([row[0] for row in rows], batch_size=batch_size, return_token_counts=True)
        answers = [{"tokens": tags_of_row} for tags_of_row in tags]
    else:
        texts: Any = [row[0] for row in rows] if len(rows[0]) == 1 else ([r[0] for r in rows], [r[1] for r in rows])
        answers, counts = model.classify(texts, batch_size=batch_size, return_token_counts=True)
    return (answers, counts) if return_token_counts else answers


def batched(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """`rows` in lists of `size`."""
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
