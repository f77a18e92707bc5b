"""Fine-tuning metrics against scikit-learn, scipy and hand-worked SQuAD examples."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import sklearn.metrics

from albert_tf.finetuning import metrics


@pytest.fixture
def binary():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 200)
    predictions = np.where(rng.random(200) < 0.7, labels, 1 - labels)
    return labels, predictions


def test_accuracy_f1_mcc_match_scikit_learn(binary):
    labels, predictions = binary
    assert metrics.accuracy(labels, predictions) == pytest.approx(sklearn.metrics.accuracy_score(labels, predictions))
    assert metrics.binary_f1(labels, predictions) == pytest.approx(sklearn.metrics.f1_score(labels, predictions))
    assert metrics.matthews_corrcoef(labels, predictions) == pytest.approx(
        sklearn.metrics.matthews_corrcoef(labels, predictions))


def test_known_values():
    # 3 right of 4; one true positive, one false positive, no false negative: F1 = 2/3.
    assert metrics.accuracy([1, 0, 0, 1], [1, 1, 0, 1]) == 0.75
    assert metrics.binary_f1([1, 0, 0, 0], [1, 1, 0, 0]) == pytest.approx(2 / 3)
    assert metrics.matthews_corrcoef([0, 1, 0, 1], [0, 1, 0, 1]) == 1.0
    assert metrics.matthews_corrcoef([0, 1, 0, 1], [1, 0, 1, 0]) == -1.0
    # Constant predictions: MCC undefined -> 0, as scikit-learn.
    assert metrics.matthews_corrcoef([0, 1, 0, 1], [1, 1, 1, 1]) == 0.0


def test_multiclass_mcc_matches_scikit_learn():
    rng = np.random.default_rng(3)
    labels, predictions = rng.integers(0, 3, 100), rng.integers(0, 3, 100)
    assert metrics.matthews_corrcoef(labels, predictions) == pytest.approx(
        sklearn.metrics.matthews_corrcoef(labels, predictions))


def test_pearson_spearman_match_scipy_with_ties():
    rng = np.random.default_rng(5)
    labels = np.round(rng.uniform(0, 5, 150) * 5) / 5  # STS-B-like scores, many ties
    predictions = labels + rng.normal(0, 1.0, 150)
    predictions[:20] = 2.0  # tied predictions
    assert metrics.pearson(labels, predictions) == pytest.approx(scipy.stats.pearsonr(labels, predictions)[0])
    assert metrics.spearman(labels, predictions) == pytest.approx(scipy.stats.spearmanr(labels, predictions)[0])
    assert metrics.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="3 labels but 2 predictions"):
        metrics.accuracy([0, 1, 1], [0, 1])


def test_squad_normalization_by_hand():
    # Case, punctuation and articles are ignored; word order is not.
    assert metrics.squad_exact_match("The Denver Broncos!", "denver broncos")
    assert not metrics.squad_exact_match("Broncos Denver", "Denver Broncos")
    # "Santa Clara" vs "Santa Clara, California": 2 common tokens, precision 1, recall 2/3 -> F1 0.8.
    assert metrics.squad_f1("Santa Clara", "Santa Clara, California") == pytest.approx(0.8)
    assert metrics.squad_f1("an apple", "the orange") == 0.0


def test_squad_dataset_scores_by_hand():
    dataset = [{"paragraphs": [{"context": "...", "qas": [
        {"id": "q1", "answers": [{"text": "Denver Broncos"}, {"text": "the Broncos"}]},
        {"id": "q2", "answers": [{"text": "Santa Clara, California"}]},
    ]}]}]
    scores = metrics.squad_v1_scores(dataset, {"q1": "Broncos", "q2": "Santa Clara"})
    # q1: EM with "the Broncos" (article dropped); q2: F1 0.8.
    assert scores == pytest.approx({"exact_match": 50.0, "f1": 90.0})

    v2 = [{"paragraphs": [{"context": "...", "qas": [
        {"id": "a", "answers": [{"text": "gold"}], "is_impossible": False},
        {"id": "b", "answers": [], "is_impossible": True},
        {"id": "c", "answers": [], "is_impossible": True},
    ]}]}]
    scores = metrics.squad_v2_scores(v2, {"a": "gold", "b": "", "c": "silver"})
    assert scores["exact"] == pytest.approx(200 / 3)
    assert scores["HasAns_exact"] == 100.0 and scores["NoAns_exact"] == 50.0
    assert scores["HasAns_total"] == 1 and scores["NoAns_total"] == 2
