"""Keras vs TFLite vs MediaPipe on the same sentences: accuracy of each and how often they agree.

Keras (fp32) and the bundle's dynamic-int8 TFLite model get the same token ids
(ALBERT's tokenization), so their disagreement is the quantization's.
MediaPipe's `TextClassifier` reads only the `.tflite` file (metadata, the
attached SentencePiece model and labels) and tokenizes itself as the Android
app does (lowercase, SentencePiece, no ALBERT normalization), so its
disagreement also counts the rare sentences it tokenizes differently.
"""

from __future__ import annotations

import itertools
import os
import pathlib
from typing import Any, Sequence

TFLITE_FILE = "model_dynamic_int8.tflite"


def compare_runtimes(preset: str | os.PathLike, bundle_dir: str | os.PathLike, texts: Sequence[str],
                     expected: Sequence[str], texts_b: Sequence[str] | None = None,
                     progress: bool = True) -> dict[str, Any]:
    """Runs the classifier `preset` in Keras and its bundle in LiteRT and MediaPipe on every text.

    Returns `{"n", "accuracy": {runtime: value}, "agreement": {"a vs b": value},
    "max_probability_difference": {...}}`; MediaPipe is left out for text pairs
    (its TextClassifier takes one text).
    """
    import numpy as np
    from tqdm.auto import tqdm

    from albert_tf.export.tflite import make_interpreter, run_ids_model
    from albert_tf.presets import load_preset
    from albert_tf.tasks.classifier import softmax

    model = load_preset(preset)
    labels = model.label_names
    tokenizer = model.preprocessor.tokenizer.python_tokenizer
    seq_length = model.preprocessor.sequence_length
    pairs = texts_b if texts_b is not None else [None] * len(texts)
    rows = [tokenizer.encode_pair(a, b, seq_length) for a, b in zip(texts, pairs)]
    ids = {name: np.asarray([row[name] for row in rows], np.int32) for name in rows[0]}

    probabilities: dict[str, np.ndarray] = {}
    keras_logits = []
    for start in tqdm(range(0, len(rows), 128), desc="Keras fp32", unit=" batches", disable=not progress,
                      leave=False):
        keras_logits.append(np.asarray(model({k: v[start:start + 128] for k, v in ids.items()}, training=False)))
    probabilities["Keras fp32"] = softmax(np.concatenate(keras_logits).astype(np.float64))

    model_path = pathlib.Path(bundle_dir) / TFLITE_FILE
    interpreter = make_interpreter(model_path, num_threads=2)
    tflite = [run_ids_model(interpreter, {k: v[i:i + 1] for k, v in ids.items()})["probabilities"][0]
              for i in tqdm(range(len(rows)), desc="TFLite int8", unit=" sentences", disable=not progress,
                            leave=False)]
    probabilities["TFLite dynamic int8"] = np.asarray(tflite, np.float64)

    if texts_b is None:
        probabilities["MediaPipe TextClassifier"] = _mediapipe(model_path, texts, labels, progress)

    predicted = {name: [labels[i] for i in values.argmax(axis=-1)] for name, values in probabilities.items()}
    expected = list(expected)
    return {
        "n": len(expected),
        "accuracy": {name: sum(p == e for p, e in zip(values, expected)) / len(expected)
                     for name, values in predicted.items()},
        "agreement": {f"{a} vs {b}": sum(x == y for x, y in zip(predicted[a], predicted[b])) / len(expected)
                      for a, b in itertools.combinations(predicted, 2)},
        "max_probability_difference": {
            f"{a} vs {b}": float(np.abs(probabilities[a] - probabilities[b]).max())
            for a, b in itertools.combinations(probabilities, 2)},
    }


def _mediapipe(model_path: pathlib.Path, texts: Sequence[str], labels: Sequence[str], progress: bool):
    import numpy as np
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.text import text_classifier
    from tqdm.auto import tqdm

    options = text_classifier.TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(model_path)),
                                                    max_results=-1)
    rows = []
    with text_classifier.TextClassifier.create_from_options(options) as classifier:
        for text in tqdm(texts, desc="MediaPipe", unit=" sentences", disable=not progress, leave=False):
            categories = classifier.classify(text).classifications[0].categories
            scores = {category.category_name: category.score for category in categories}
            rows.append([scores[label] for label in labels])
    return np.asarray(rows, np.float64)
