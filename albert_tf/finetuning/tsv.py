"""Reading delimited text files into `TextExample`s, with errors that name file and line."""

from __future__ import annotations

import csv
import dataclasses
import os
import sys
from typing import Iterator, Sequence

from albert_tf.finetuning.features import TextExample

# A column is a header name, or a 0-based position for files without a header (CoLA).
Column = str | int


@dataclasses.dataclass(frozen=True)
class Columns:
    """Where a file keeps its fields.

    Args:
        text_a: the first text.
        text_b: the second text (pair tasks) or None.
        label: the label, or None for unlabelled (test) files.
        index: the row id (GLUE test files), or None to number rows from 0.
        header: whether the first line names the columns.
    """

    text_a: Column
    text_b: Column | None = None
    label: Column | None = None
    index: Column | None = None
    header: bool = True


def read_rows(path: str, delimiter: str, quoting: bool) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, fields) for every non-empty line of `path`."""
    if not os.path.isfile(path):
        raise ValueError(f"Data file not found: {path}")
    csv.field_size_limit(sys.maxsize)  # QNLI/MNLI have long fields
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            # GLUE's TSVs are not quoted (sentences contain bare '"'); CSV files are.
            reader = csv.reader(handle, delimiter=delimiter,
                                quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE)
            for fields in reader:
                if fields and any(field.strip() for field in fields):
                    yield reader.line_num, fields
    except UnicodeDecodeError as error:
        # The decoder reads ahead in blocks: find the line of the bad byte in the raw file.
        with open(path, "rb") as raw:
            data = raw.read()
        try:
            data.decode("utf-8")
            offset = error.start
        except UnicodeDecodeError as exact:
            offset = exact.start
        line = data.count(b"\n", 0, offset) + 1
        raise ValueError(f"{path}, line {line}: not UTF-8 (byte 0x{data[offset]:02x}); save the file as UTF-8."
                         ) from None


def read_examples(
    path: str,
    columns: Columns,
    label_list: Sequence[str] | None,
    regression: bool = False,
    delimiter: str = "\t",
    quoting: bool = False,
    fix_hint: str = "",
) -> list[TextExample]:
    """The examples of one file, every label checked against `label_list`.

    Args:
        path: the file.
        columns: its layout.
        label_list: the allowed label strings (classification), or None to
            accept any (the caller derives the set); ignored when `regression`
            (labels must then parse as floats).
        regression: float labels.
        delimiter: field separator.
        quoting: whether fields may be quoted (CSV) or not (GLUE TSV).
        fix_hint: appended to error messages (e.g. which option to pass).

    Raises:
        ValueError: naming the file and line of a short row, a missing column
            or a label outside the label set.
    """
    rows = read_rows(path, delimiter, quoting)
    header_index: dict[str, int] = {}
    if columns.header:
        first = next(rows, None)
        if first is None:
            raise ValueError(f"{path} is empty; expected a header line naming the columns.")
        header_index = {name.strip(): position for position, name in enumerate(first[1])}
    positions = {
        role: _position(path, column, header_index, role, fix_hint)
        for role, column in dataclasses.asdict(columns).items()
        if role != "header" and column is not None
    }
    allowed = None if label_list is None else set(label_list)
    examples = []
    for line, fields in rows:
        if len(fields) <= max(positions.values()):
            needed = max(positions, key=positions.get)
            raise ValueError(
                f"{path}, line {line}: {len(fields)} fields, but the {needed} column is field "
                f"{positions[needed] + 1}. Check the delimiter and that no text contains a raw "
                f"{'tab' if delimiter == chr(9) else repr(delimiter)}.{fix_hint}"
            )
        values = {role: fields[position] for role, position in positions.items()}
        label: str | float | None = values.get("label")
        if label is not None:
            label = label.strip()
            if regression:
                try:
                    label = float(label)
                except ValueError:
                    raise ValueError(f"{path}, line {line}: label {label!r} is not a number (this task is "
                                     f"regression).{fix_hint}") from None
            elif allowed is not None and label not in allowed:
                raise ValueError(
                    f"{path}, line {line}: label {label!r} is not one of the task's labels "
                    f"{sorted(allowed)}. Fix or remove the row, or pick the right --task/--label-column.{fix_hint}"
                )
        examples.append(TextExample(
            guid=f"{path}:{line}", text_a=values["text_a"], text_b=values.get("text_b"), label=label,
            index=values["index"].strip() if "index" in values else str(len(examples)),
        ))
    return examples


def _position(path: str, column: Column, header_index: dict[str, int], role: str, fix_hint: str) -> int:
    if isinstance(column, int):
        return column
    if column not in header_index:
        raise ValueError(
            f"{path}: no {column!r} column (needed as the {role}); the header has {sorted(header_index)}.{fix_hint}"
        )
    return header_index[column]
