"""RACE reading comprehension: `DATA_DIR/{train,dev,test}/{high,middle}/*.txt`, one JSON document per file.

Each file holds `article`, `questions`, `options` (four per question) and
`answers` (letters A-D); every question becomes a `ChoiceExample`.
"""

from __future__ import annotations

import glob
import json
import os

from albert_tf.finetuning.features import ChoiceExample

NUM_CHOICES = 4
LEVELS = ("high", "middle")
ANSWER_LETTERS = "ABCD"


def read_race_split(data_dir: str, split: str, levels: tuple[str, ...] = LEVELS) -> list[ChoiceExample]:
    """Every question of `data_dir/split/{high,middle}/*.txt`, files in sorted order.

    Raises:
        ValueError: when the split has no files, or a file is not RACE JSON, has
            a question without four options, or an answer that is not A-D.
    """
    split_dir = os.path.join(data_dir, split)
    paths = sorted(path for level in levels for path in glob.glob(os.path.join(split_dir, level, "*.txt")))
    if not paths:
        raise ValueError(f"No RACE files in {split_dir}/{{{','.join(levels)}}}/*.txt; --data-dir must be the "
                         "RACE folder holding train/, dev/ and test/.")
    examples = []
    for path in paths:
        examples.extend(_read_file(path))
    return examples


def _read_file(path: str) -> list[ChoiceExample]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        article, questions, options, answers = (document[key] for key in ("article", "questions", "options", "answers"))
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a RACE file (a JSON object with article, questions, options and "
                         f"answers): {error}") from None
    if not (len(questions) == len(options) == len(answers)):
        raise ValueError(f"{path}: {len(questions)} questions, {len(options)} option lists and {len(answers)} "
                         "answers; they must match one to one.")
    examples = []
    for number, (question, choices, answer) in enumerate(zip(questions, options, answers)):
        where = f"{path}, question {number + 1}"
        if len(choices) != NUM_CHOICES:
            raise ValueError(f"{where}: {len(choices)} options; RACE questions have {NUM_CHOICES}.")
        if answer not in ANSWER_LETTERS:
            raise ValueError(f"{where}: answer {answer!r} is not one of {list(ANSWER_LETTERS)}.")
        examples.append(ChoiceExample(guid=where, context=article, question=question, options=tuple(choices),
                                      label=ANSWER_LETTERS.index(answer)))
    return examples
