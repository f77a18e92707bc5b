"""Real text for full-integer calibration and accuracy checks.

Calibration sets each activation's int8 range from what the model sees on
this data, so it must be text like the deployment's (random ids give ranges
that real sentences overflow or barely use).
"""

from __future__ import annotations

import csv
import os
import pathlib
from typing import Callable, Iterator

import numpy as np

from albert_tf.backbone import INPUT_NAMES


def read_texts(path: str | os.PathLike, limit: int | None = None) -> list[str]:
    """Sentences from a text file or a GLUE-style tsv.

    A `.tsv` with a header is read by column: `sentence` (SST-2, CoLA), else
    `sentence1`/`question`/the first column. Other files: one text per
    non-empty line.

    Raises:
        ValueError: the file is missing or holds no text.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"Representative data file {path} does not exist; pass a text file or a GLUE .tsv.")
    texts: list[str] = []
    if path.suffix == ".tsv":
        with open(path, encoding="utf-8", newline="") as stream:
            reader = csv.reader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader, [])
            column = next((header.index(name) for name in ("sentence", "sentence1", "question") if name in header), 0)
            for row in reader:
                if len(row) > column and row[column].strip():
                    texts.append(row[column].strip())
                if limit is not None and len(texts) >= limit:
                    break
    else:
        with open(path, encoding="utf-8") as stream:
            for line in stream:
                if line.strip():
                    texts.append(line.strip())
                if limit is not None and len(texts) >= limit:
                    break
    if not texts:
        raise ValueError(f"Representative data file {path} holds no text.")
    return texts


def read_labeled_tsv(path: str | os.PathLike, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """`(sentences, int labels)` of a GLUE single-sentence tsv (`sentence<TAB>label`, with a header)."""
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        text_column, label_column = header.index("sentence"), header.index("label")
        for row in reader:
            texts.append(row[text_column].strip())
            labels.append(int(row[label_column]))
            if limit is not None and len(texts) >= limit:
                break
    return texts, np.asarray(labels, np.int64)


def encode_texts(tokenizer, texts: list[str], seq_length: int) -> dict[str, np.ndarray]:
    """int32 `[len(texts), seq_length]` model inputs, `[CLS] text [SEP]` as `AlbertTokenizer.encode_pair`."""
    rows = [tokenizer.encode_pair(text, None, seq_length) for text in texts]
    return {name: np.asarray([row[name] for row in rows], np.int32) for name in INPUT_NAMES}


def representative_dataset(
    tokenizer, texts: list[str], seq_length: int, limit: int = 200
) -> Callable[[], Iterator[dict[str, np.ndarray]]]:
    """The converter's `representative_dataset`: one `[1, L]` input dict per sentence (first `limit`)."""
    inputs = encode_texts(tokenizer, texts[:limit], seq_length)

    def generate() -> Iterator[dict[str, np.ndarray]]:
        for row in range(len(inputs["input_word_ids"])):
            yield {name: inputs[name][row:row + 1] for name in INPUT_NAMES}

    return generate
