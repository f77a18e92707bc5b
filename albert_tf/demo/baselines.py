"""The two baselines the demo's classifiers are measured against: the majority class and VADER."""

from __future__ import annotations

from collections import Counter
from typing import Sequence


def majority_label(train_labels: Sequence[str]) -> str:
    """The most frequent training label (ties: the first in sorted order)."""
    counts = Counter(train_labels)
    return max(sorted(counts), key=lambda label: counts[label])


def vader_labels(texts: Sequence[str], progress: bool = True) -> list[str]:
    """VADER's rule-based analyzer (`vaderSentiment` 3.3.2): `positive` where the compound score is > 0."""
    from tqdm.auto import tqdm
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return ["positive" if analyzer.polarity_scores(text)["compound"] > 0 else "negative"
            for text in tqdm(texts, desc="VADER", unit=" sentences", disable=not progress, leave=False)]


def accuracy(predicted: Sequence[str], expected: Sequence[str]) -> float:
    """Fraction of equal labels."""
    if len(predicted) != len(expected) or not expected:
        raise ValueError(f"accuracy needs two equally long, non-empty label lists; got {len(predicted)} and "
                         f"{len(expected)}")
    return sum(p == e for p, e in zip(predicted, expected)) / len(expected)
