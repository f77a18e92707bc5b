"""The official metrics of the fine-tuning tasks, in NumPy (no scikit-learn/scipy at run time).

GLUE: accuracy, binary F1 (MRPC, QQP), Matthews correlation (CoLA), Pearson and
Spearman correlation (STS-B). SQuAD: exact match and F1 through the official
evaluation scripts shipped with tf-models-official.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np


def accuracy(labels: Sequence[int], predictions: Sequence[int]) -> float:
    """Fraction of `predictions` equal to `labels`."""
    labels, predictions = _pair(labels, predictions)
    return float(np.mean(labels == predictions))


def binary_f1(labels: Sequence[int], predictions: Sequence[int], positive: int = 1) -> float:
    """F1 of the `positive` class (GLUE's MRPC and QQP F1); 0.0 when it is never predicted nor present."""
    labels, predictions = _pair(labels, predictions)
    true_positive = np.sum((predictions == positive) & (labels == positive))
    predicted = np.sum(predictions == positive)
    actual = np.sum(labels == positive)
    if predicted + actual == 0:
        return 0.0
    return float(2 * true_positive / (predicted + actual))


def matthews_corrcoef(labels: Sequence[int], predictions: Sequence[int]) -> float:
    """Matthews correlation coefficient (CoLA), multi-class form; 0.0 when undefined (as scikit-learn)."""
    labels, predictions = _pair(labels, predictions)
    classes = np.union1d(labels, predictions)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.float64)
    np.add.at(confusion, (np.searchsorted(classes, labels), np.searchsorted(classes, predictions)), 1)
    true_counts, predicted_counts = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, total = np.trace(confusion), confusion.sum()
    numerator = correct * total - np.dot(true_counts, predicted_counts)
    denominator = np.sqrt((total**2 - np.dot(predicted_counts, predicted_counts))
                          * (total**2 - np.dot(true_counts, true_counts)))
    return 0.0 if denominator == 0 else float(numerator / denominator)


def pearson(labels: Sequence[float], predictions: Sequence[float]) -> float:
    """Pearson correlation (STS-B); NaN when either side is constant."""
    labels, predictions = _pair(labels, predictions, dtype=np.float64)
    x, y = labels - labels.mean(), predictions - predictions.mean()
    denominator = np.sqrt(np.dot(x, x) * np.dot(y, y))
    return float("nan") if denominator == 0 else float(np.dot(x, y) / denominator)


def spearman(labels: Sequence[float], predictions: Sequence[float]) -> float:
    """Spearman rank correlation (STS-B): Pearson of the ranks, ties given their mean rank."""
    labels, predictions = _pair(labels, predictions, dtype=np.float64)
    return pearson(_average_ranks(labels), _average_ranks(predictions))


def squad_v1_scores(dataset: Sequence[Mapping[str, Any]], predictions: Mapping[str, str]) -> dict[str, float]:
    """Official SQuAD v1.1 evaluation: `exact_match` and `f1` in percent.

    Args:
        dataset: the `data` list of a SQuAD json file.
        predictions: question id -> answer text.
    """
    from official.nlp.tools import squad_evaluate_v1_1

    # The tf-models copy returns fractions; the official script prints percentages.
    scores = squad_evaluate_v1_1.evaluate(dataset, predictions)
    return {"exact_match": 100.0 * scores["exact_match"], "f1": 100.0 * scores["final_f1"]}


def squad_v2_scores(
    dataset: Sequence[Mapping[str, Any]], predictions: Mapping[str, str], null_odds: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Official SQuAD v2.0 evaluation: `exact`, `f1`, `HasAns_*`, `NoAns_*`, best thresholds (percent).

    Args:
        dataset: the `data` list of a SQuAD json file.
        predictions: question id -> answer text ("" for no answer).
        null_odds: question id -> no-answer score, for the best-threshold search.
    """
    from official.nlp.tools import squad_evaluate_v2_0

    scores = squad_evaluate_v2_0.evaluate(dataset, predictions, dict(null_odds) if null_odds is not None else None)
    return {key: float(value) for key, value in scores.items()}


def squad_exact_match(prediction: str, ground_truth: str) -> bool:
    """Official SQuAD exact match after normalization (case, punctuation, articles, whitespace)."""
    from official.nlp.tools import squad_evaluate_v1_1

    return bool(squad_evaluate_v1_1._exact_match_score(prediction, ground_truth))


def squad_f1(prediction: str, ground_truth: str) -> float:
    """Official SQuAD token-overlap F1 (0-1) after normalization."""
    from official.nlp.tools import squad_evaluate_v1_1

    return float(squad_evaluate_v1_1._f1_score(prediction, ground_truth))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    # Ties share the mean of the ranks they span.
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def _pair(labels, predictions, dtype=None) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=dtype).reshape(-1)
    predictions = np.asarray(predictions, dtype=dtype).reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.size} labels but {predictions.size} predictions.")
    if labels.size == 0:
        raise ValueError("No examples to score.")
    return labels, predictions
