"""Examples and model inputs for sequence-pair classification and multiple choice."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from albert_tf.backbone import INPUT_NAMES
from albert_tf.tokenizer import AlbertTokenizer


@dataclasses.dataclass(frozen=True)
class TextExample:
    """One classification/regression example.

    Args:
        guid: where it came from (`file:line`), for messages.
        text_a: the first segment.
        text_b: the second segment, or None for single-sentence tasks.
        label: the label string (classification), a float (regression), or
            None for unlabelled test rows.
        index: the row's id in its file (the GLUE submission `index`).
    """

    guid: str
    text_a: str
    text_b: str | None = None
    label: str | float | None = None
    index: str | None = None


@dataclasses.dataclass(frozen=True)
class ChoiceExample:
    """One multiple-choice example (e.g. RACE): a context, a question and its options.

    Args:
        guid: where it came from, for messages.
        context: the passage.
        question: the question; a `_` in it is a blank that each option fills.
        options: the candidate answers.
        label: index of the correct option, or None when unknown.
    """

    guid: str
    context: str
    question: str
    options: tuple[str, ...]
    label: int | None = None


def encode_text_examples(
    examples: Sequence[TextExample], tokenizer: AlbertTokenizer, max_seq_length: int, description: str = "features",
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """`[CLS] A [SEP] (B [SEP])` inputs for every example: int32 arrays `[N, max_seq_length]`.

    Too-long pairs are truncated from the end, longer segment first (as the original).
    """
    rows = {name: np.zeros((len(examples), max_seq_length), np.int32) for name in INPUT_NAMES}
    for row, example in enumerate(tqdm(examples, desc=description, unit="ex", leave=False, disable=not progress)):
        packed = tokenizer.encode_pair(example.text_a, example.text_b, max_seq_length)
        for name in INPUT_NAMES:
            rows[name][row] = packed[name]
    return rows


def encode_labels(examples: Sequence[TextExample], label_list: Sequence[str] | None) -> np.ndarray:
    """Label ids (int32) for classification, or float32 scores when `label_list` is None (regression).

    The readers have already checked every label, so a miss here is a bug, not bad data.
    """
    if label_list is None:
        return np.asarray([float(example.label) for example in examples], np.float32)
    lookup = {label: index for index, label in enumerate(label_list)}
    return np.asarray([lookup[example.label] for example in examples], np.int32)


def choice_segments(question: str, option: str) -> str:
    """The second segment for one option: the blank filled in, else question + option (as ALBERT's RACE code)."""
    return question.replace("_", option) if "_" in question else f"{question} {option}"


def encode_choice_examples(
    examples: Sequence[ChoiceExample],
    tokenizer: AlbertTokenizer,
    max_seq_length: int,
    max_qa_length: int = 128,
    description: str = "features",
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """`[CLS] context [SEP] question+option [SEP]` per option: int32 arrays `[N, num_choices, max_seq_length]`.

    The question+option part keeps at most its last `max_qa_length` tokens (the
    option is at the end); the context is cut to fit the rest.
    """
    num_choices = len(examples[0].options) if examples else 0
    rows = {name: np.zeros((len(examples), num_choices, max_seq_length), np.int32) for name in INPUT_NAMES}
    for row, example in enumerate(tqdm(examples, desc=description, unit="ex", leave=False, disable=not progress)):
        if len(example.options) != num_choices:
            raise ValueError(f"{example.guid}: {len(example.options)} options, but the first example has "
                             f"{num_choices}; every example needs the same number of options.")
        context = tokenizer.encode(example.context)
        for choice, option in enumerate(example.options):
            qa = tokenizer.encode(choice_segments(example.question, option))[-max_qa_length:]
            packed = tokenizer.pack_ids(context, qa, max_seq_length)
            for name in INPUT_NAMES:
                rows[name][row, choice] = packed[name]
    return rows
