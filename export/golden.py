"""`golden.json`: texts -> model inputs -> float32 outputs, for on-device tests.

An Android (or any runtime) test tokenizes each `text`, checks its ids equal
`input_word_ids` / `input_mask` / `input_type_ids`, runs the model on those
ids, and compares the outputs with the stored float32 Keras outputs within
`tolerance` for the model variant it runs. `mediapipe_same_ids` says whether
MediaPipe's own tokenization (lowercase + SentencePiece only) gives the same
ids: where it is false, a MediaPipe `TextClassifier` answers differently by
design and the row is skipped for it.

Schema (`format` "albert_tf.golden/1")::

    {"format", "kind", "seq_length", "labels" (classifiers), "outputs": [names],
     "reference": "keras float32", "tolerance": {variant: max abs difference},
     "examples": [{"text", "num_tokens", "input_word_ids", "input_mask",
                   "input_type_ids", "<output name>": [floats] ..., "label" (classifiers),
                   "mediapipe_same_ids"}]}
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from albert_tf.backbone import INPUT_NAMES
from albert_tf.export.mediapipe_tokenization import mediapipe_ids

GOLDEN_FORMAT = "albert_tf.golden/1"

# Real sentences that exercise the tokenizer: accents (stripped by ALBERT, not
# by MediaPipe), digits with commas (re-split by ALBERT), punctuation and
# casing, quotes, an empty input and one longer than any sequence length.
_LONG_TEXT = (
    "The film opens on a quiet morning in a small mountain town, where the rain has only just stopped and "
    "the settlement wakes to find the streets washed clean; over the next two hours it follows a doctor, a "
    "schoolteacher and a retired miner through one ordinary week, and although nothing dramatic happens, "
    "the performances are so precise, the photography so patient and the dialogue so unforced that by the "
    "end you feel you have lived there yourself. It is not a perfect movie: the second act drags, a subplot "
    "about a land dispute is never resolved, and the score leans too hard on strings. But in 2024, with "
    "1,250 screens showing the same three franchises, a film this attentive to people is worth the ticket, "
    "and I would happily watch it again, twice, on the biggest screen I could find."
)
GOLDEN_TEXTS: tuple[str, ...] = (
    "it 's a charming and often affecting journey .",
    "unflinchingly bleak and desperate",
    "A wonderful, heartfelt film -- the best I've seen this year!",
    "What a DISASTER. Two hours I will never get back...",
    "The café scene in Zürich is naïve but the actors are très charmants.",
    "In 1990, 2,000 people paid $3.50 each; by 2020 it was 12,500.",
    "``Brilliant'' is not the word; ''tedious'' is.",
    "Ça n'a pas marché: ÉNORME déception!",
    "",
    _LONG_TEXT,
)


def build_golden(
    tokenizer,
    predict: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]],
    kind: str,
    seq_length: int,
    texts: Sequence[str] = GOLDEN_TEXTS,
    labels: Sequence[str] | None = None,
    tolerance: Mapping[str, float] | None = None,
    output_names: Sequence[str] | None = None,
) -> dict:
    """The golden dict for `texts`.

    Args:
        tokenizer: the `AlbertTokenizer`.
        predict: float32 reference outputs for int32 inputs `[batch, L]` (the Keras model).
        kind: the model kind.
        seq_length: L.
        texts: the texts.
        labels: class names (classifiers).
        tolerance: max absolute output difference allowed per model variant.
        output_names: which outputs to store (default: all that `predict` returns).
    """
    rows = [tokenizer.encode_pair(text, None, seq_length) for text in texts]
    inputs = {name: np.asarray([row[name] for row in rows], np.int32) for name in INPUT_NAMES}
    outputs = {name: np.asarray(value, np.float32) for name, value in predict(inputs).items()}
    names = list(output_names or outputs)
    examples = []
    for index, text in enumerate(texts):
        ids = tokenizer.encode(text)
        example = {"text": text, "num_tokens": len(ids) + 2}
        example.update({name: inputs[name][index].tolist() for name in INPUT_NAMES})
        for name in names:
            example[name] = [float(value) for value in outputs[name][index].ravel()]
        if kind == "classifier":
            example["label"] = int(np.argmax(outputs["probabilities"][index]))
        example["mediapipe_same_ids"] = mediapipe_ids(tokenizer, text)[: seq_length - 2] == ids[: seq_length - 2]
        examples.append(example)
    golden = {
        "format": GOLDEN_FORMAT,
        "kind": kind,
        "seq_length": seq_length,
        "outputs": names,
        "reference": "keras float32",
        "tolerance": dict(tolerance or {}),
        "examples": examples,
    }
    if labels is not None:
        golden["labels"] = list(labels)
    return golden
