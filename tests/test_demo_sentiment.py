"""`albert demo`'s sentiment data: a written fixture in the sdist's format (test_demo.py runs the demo on it), the
sdist's data (download, sha256, counts; skipped without PyPI), the split, the baselines."""

from __future__ import annotations

import os
import pathlib
import random
import subprocess
import sys

import pytest

from albert_tf.demo import sentiment_data
from albert_tf.demo.baselines import accuracy, majority_label, vader_labels

_POSITIVE = ("a wonderful , moving film", "great acting and a lovely story", "funny , warm and smart",
             "the best movie of the year", "beautiful and touching", "a delight from start to finish")
_NEGATIVE = ("a dull , boring mess", "terrible acting and a stupid plot", "the worst film of the year",
             "tedious and ugly", "a waste of time", "flat , lifeless and dumb")


def write_sentiment_fixture(folder: pathlib.Path, movie_rows: int = 240) -> pathlib.Path:
    """Ground-truth files in the sdist's format (CRLF, `id<TAB>valence<TAB>text`): easy, unique sentences,
    plus rows the demo must drop (valence exactly 0, a repeated text)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for name, rows in (("movieReviewSnippets", movie_rows), ("tweets", 40), ("amazonReviewSnippets", 40)):
        lines = []
        for index in range(rows):
            positive = index % 2 == 0
            text = f"{rng.choice(_POSITIVE if positive else _NEGATIVE)} , number {index} of {name}"
            valence = rng.uniform(0.3, 3.5) * (1 if positive else -1)
            lines.append(f"{index + 1}\t{valence:.6f}\t{text}")
        lines.append(f"{rows + 1}\t0\tan exactly neutral sentence")
        lines.append(f"{rows + 2}\t1.5\t{lines[0].split(chr(9))[2]}")  # a repeated text
        (folder / f"{name}_GroundTruth.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return folder


def test_split_is_fixed_and_drops_neutral_and_repeated_sentences(tmp_path):
    source = write_sentiment_fixture(tmp_path / "hutto", movie_rows=100)
    first = sentiment_data.write_split(source, tmp_path / "a")
    second = sentiment_data.write_split(source, tmp_path / "b", max_train_examples=30)
    assert first.counts == {"test": 10, "dev": 10, "train": 80, "tweets": 40, "amazonReviewSnippets": 40}
    for name in ("dev", "test"):
        assert (tmp_path / "a" / f"{name}.tsv").read_bytes() == (tmp_path / "b" / f"{name}.tsv").read_bytes()
    assert second.counts["train"] == 30
    texts, labels = sentiment_data.read_split_file(tmp_path / "a" / "train.tsv")
    assert "an exactly neutral sentence" not in texts and set(labels) == {"negative", "positive"}
    assert all(("wonderful" in t or "great" in t or "funny" in t or "best" in t or "beautiful" in t
                or "delight" in t) == (label == "positive") for t, label in zip(texts, labels))


def test_malformed_ground_truth_is_named_with_its_line(tmp_path):
    (tmp_path / "movieReviewSnippets_GroundTruth.txt").write_text("1\t2.0\tfine\r\n2\tnot-a-number\ttext\r\n")
    with pytest.raises(ValueError, match=r"movieReviewSnippets_GroundTruth.txt:2: expected"):
        sentiment_data.read_ground_truth(tmp_path / "movieReviewSnippets_GroundTruth.txt")
    with pytest.raises(ValueError, match="lacks tweets_GroundTruth.txt"):
        sentiment_data.write_split(tmp_path, tmp_path / "out")


def test_unreachable_registry_gives_the_manual_command(tmp_path, monkeypatch):
    def failing_pip(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version that satisfies")

    monkeypatch.setattr(sentiment_data.subprocess, "run", failing_pip)
    with pytest.raises(sentiment_data.SentimentDataUnavailableError,
                       match=r"pip download --no-deps --no-binary :all: vaderSentiment==3.3.2 --dest .*--sentiment-dir"):
        sentiment_data.ground_truth_dir(tmp_path / "cache", progress=False)
    assert not list((tmp_path / "cache").iterdir())  # no scratch left behind


def test_a_damaged_sdist_is_refused_by_its_sha256(tmp_path):
    (tmp_path / sentiment_data.SDIST_NAME).write_bytes(b"not the sdist")
    with pytest.raises(ValueError, match="not the published 5d7c06e0"):
        sentiment_data.ground_truth_dir(tmp_path, progress=False)


def test_baselines():
    assert majority_label(["positive", "negative", "negative"]) == "negative"
    assert majority_label(["positive", "negative"]) == "negative"  # a tie: the first in sorted order
    assert vader_labels(["What a wonderful, lovely film!", "A boring, ugly waste of time."], progress=False) \
        == ["positive", "negative"]
    assert accuracy(["a", "b"], ["a", "a"]) == 0.5
    with pytest.raises(ValueError):
        accuracy([], [])


def _registry_reachable() -> bool:
    completed = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "vaderSentiment"],
                               capture_output=True, text=True, timeout=60)
    return completed.returncode == 0 and "3.3.2" in completed.stdout


@pytest.mark.skipif(os.environ.get("ALBERT_OFFLINE") == "1", reason="ALBERT_OFFLINE=1")
def test_the_real_sdist_holds_the_papers_counts(tmp_path):
    if not _registry_reachable():
        pytest.skip("PyPI cannot be reached (pip index versions vaderSentiment failed)")
    folder = sentiment_data.ground_truth_dir(tmp_path, progress=False)
    counts = {}
    for name in ("movieReviewSnippets", "tweets", "amazonReviewSnippets", "nytEditorialSnippets"):
        rows = sentiment_data.read_ground_truth(folder / f"{name}_GroundTruth.txt")
        counts[name] = (len(rows), sum(r.valence > 0 for r in rows), sum(r.valence < 0 for r in rows),
                        sum(r.valence == 0 for r in rows))
    assert counts == {"movieReviewSnippets": (10605, 5242, 5326, 37), "tweets": (4200, 2897, 1299, 4),
                      "amazonReviewSnippets": (3708, 2128, 1482, 98), "nytEditorialSnippets": (5190, 2204, 2742, 244)}
    split = sentiment_data.write_split(folder, tmp_path / "split")
    # 10,568 rated non-zero, 2 texts repeated: 10,566 split 80/10/10.
    assert split.counts == {"test": 1057, "dev": 1057, "train": 8452, "tweets": 4196, "amazonReviewSnippets": 3600}
