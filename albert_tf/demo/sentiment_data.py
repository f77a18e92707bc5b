"""The demo's labelled data: human-rated sentences from the `vaderSentiment==3.3.2` source distribution.

Model hubs and dataset sites are out of reach on many machines, PyPI is not.
The sdist of `vaderSentiment==3.3.2` (MIT License, C.J. Hutto) carries
`additional_resources/hutto_ICWSM_2014.tar.gz`, the data of Hutto & Gilbert,
"VADER: A Parsimonious Rule-based Model for Sentiment Analysis of Social Media
Text" (ICWSM 2014): `<name>_GroundTruth.txt` files of
`id<TAB>mean valence<TAB>text`, the valence (-4..+4) averaged over about 20
raters. `pip download` fetches the sdist into the cache (no build, no install),
its sha256 is checked, and the ground-truth files are unpacked beside it.

Binary labels: valence > 0 is `positive`, < 0 `negative`, exactly 0 is dropped.
The movie-review sentences are split once, with a fixed seed, into train / dev
/ test; tweets, Amazon and New York Times sentences are out-of-domain tests.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import os
import pathlib
import random
import subprocess
import sys
import tarfile
import tempfile

logger = logging.getLogger(__name__)

VADER_REQUIREMENT = "vaderSentiment==3.3.2"
SDIST_NAME = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
IN_DOMAIN = "movieReviewSnippets"
# The out-of-domain tests the demo scores; the sdist also has nytEditorialSnippets (unpacked, not scored).
OUT_OF_DOMAIN = ("tweets", "amazonReviewSnippets")
GROUND_TRUTH = tuple(f"{name}_GroundTruth.txt" for name in (IN_DOMAIN, *OUT_OF_DOMAIN, "nytEditorialSnippets"))
LABELS = ("negative", "positive")
# The split never changes with the run's seed: every seed is scored on the same test sentences.
SPLIT_SEED = 20140601
DEV_FRACTION = TEST_FRACTION = 0.1
TEXT_COLUMN, LABEL_COLUMN = "sentence", "label"
MANUAL_COMMAND = f"pip download --no-deps --no-binary :all: {VADER_REQUIREMENT} --dest {{cache}}"


class SentimentDataUnavailableError(ValueError):
    """The sdist could not be fetched or is not the expected file (a ValueError: the CLI prints one line)."""


def ground_truth_dir(cache_dir: str | os.PathLike, progress: bool = True) -> pathlib.Path:
    """The folder of the `*_GroundTruth.txt` files, fetched and unpacked into `cache_dir` on first use.

    Raises:
        SentimentDataUnavailableError: pip could not download the sdist, or its
            sha256 is not the published one; the message gives the manual command.
    """
    cache = pathlib.Path(cache_dir)
    target = cache / "hutto_ICWSM_2014"
    if all((target / name).is_file() for name in GROUND_TRUTH):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / SDIST_NAME
    if not sdist.is_file():
        _download_sdist(cache, progress)
    digest = _sha256(sdist)
    if digest != SDIST_SHA256:
        raise SentimentDataUnavailableError(
            f"{sdist} has sha256 {digest}, not the published {SDIST_SHA256}; delete it and rerun (or fetch it "
            f"with: {MANUAL_COMMAND.format(cache=cache)})")
    with tempfile.TemporaryDirectory(dir=cache, prefix=".unpack-") as scratch:
        unpacked = pathlib.Path(scratch) / "hutto_ICWSM_2014"
        unpacked.mkdir()
        with tarfile.open(sdist) as outer:
            inner_bytes = outer.extractfile(INNER_ARCHIVE).read()
        with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
            for name in GROUND_TRUTH:
                (unpacked / name).write_bytes(inner.extractfile(f"hutto_ICWSM_2014/{name}").read())
        if target.exists():  # a half-unpacked folder from a killed run
            import shutil

            shutil.rmtree(target)
        os.replace(unpacked, target)  # atomic: the folder appears whole or not at all
    logger.info("sentiment data unpacked into %s", target)
    return target


def _download_sdist(cache: pathlib.Path, progress: bool) -> None:
    logger.info("downloading %s (sdist, 2.5 MB) from PyPI", VADER_REQUIREMENT)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as scratch:
        command = [sys.executable, "-m", "pip", "download", VADER_REQUIREMENT, "--no-deps", "--no-binary", ":all:",
                   "--dest", scratch]
        if not progress:
            command.append("--quiet")
        completed = subprocess.run(command, stdout=None if progress else subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        downloaded = pathlib.Path(scratch) / SDIST_NAME
        if completed.returncode != 0 or not downloaded.is_file():
            last = (completed.stderr or "").strip().splitlines()[-1:] or ["no sdist"]
            raise SentimentDataUnavailableError(
                f"could not download {VADER_REQUIREMENT} from PyPI ({last[0]}); on a machine that reaches PyPI run "
                f"`{MANUAL_COMMAND.format(cache=cache)}` and rerun, or pass --sentiment-dir with the "
                "*_GroundTruth.txt files")
        os.replace(downloaded, cache / SDIST_NAME)


def _sha256(path: pathlib.Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class RatedSentence:
    """One ground-truth row."""

    id: str
    valence: float
    text: str


def read_ground_truth(path: str | os.PathLike) -> list[RatedSentence]:
    """All rows of a `*_GroundTruth.txt` file (UTF-8, CRLF line ends, `id<TAB>valence<TAB>text`)."""
    rows = []
    with open(path, encoding="utf-8", newline="") as stream:
        for number, line in enumerate(stream.read().replace("\r\n", "\n").split("\n"), 1):
            if not line.strip():
                continue
            fields = line.split("\t")
            try:
                rows.append(RatedSentence(fields[0], float(fields[1]), "\t".join(fields[2:]).strip()))
            except (IndexError, ValueError):
                raise ValueError(f"{path}:{number}: expected `id<TAB>mean valence<TAB>text`, got {line[:80]!r}; "
                                 "pass the hutto_ICWSM_2014 *_GroundTruth.txt files") from None
    return rows


def binary(rows: list[RatedSentence]) -> list[tuple[str, str]]:
    """(text, label) with valence > 0 positive, < 0 negative; 0 and repeated texts dropped."""
    seen, labelled = set(), []
    for row in rows:
        if row.valence == 0 or row.text in seen or not row.text:
            continue
        seen.add(row.text)
        labelled.append((row.text, LABELS[row.valence > 0]))
    return labelled


@dataclasses.dataclass(frozen=True)
class SentimentSplit:
    """The tsv files the demo fine-tunes and tests on (header `sentence<TAB>label`).

    Attributes:
        data_dir: `train.tsv`, `dev.tsv`, `test.tsv` (movie reviews) for the fine-tuning runner.
        out_of_domain: name -> tsv path of each out-of-domain test.
        counts: rows per file.
    """

    data_dir: pathlib.Path
    out_of_domain: dict[str, pathlib.Path]
    counts: dict[str, int]


def write_split(source_dir: str | os.PathLike, output_dir: str | os.PathLike,
                max_train_examples: int | None = None) -> SentimentSplit:
    """Reads the ground-truth files in `source_dir` and writes the fixed split into `output_dir`.

    The movie-review sentences are shuffled with `SPLIT_SEED` and cut into
    80% train, 10% dev and 10% test; `max_train_examples` keeps only the
    first N training rows (dev and test stay whole). Files are written atomically.
    """
    from albert_tf.io_utils import atomic_write_text

    source = pathlib.Path(source_dir)
    missing = [name for name in GROUND_TRUTH[:3] if not (source / name).is_file()]
    if missing:
        raise ValueError(f"--sentiment-dir {source} lacks {', '.join(missing)}; pass the hutto_ICWSM_2014 folder "
                         f"of the {VADER_REQUIREMENT} sdist")
    movie = binary(read_ground_truth(source / GROUND_TRUTH[0]))
    random.Random(SPLIT_SEED).shuffle(movie)
    dev_size, test_size = round(len(movie) * DEV_FRACTION), round(len(movie) * TEST_FRACTION)
    if min(dev_size, test_size, len(movie) - dev_size - test_size) < 1:
        raise ValueError(f"{source / GROUND_TRUTH[0]} has {len(movie)} usable sentences; too few to split")
    parts = {"test": movie[:test_size], "dev": movie[test_size:test_size + dev_size],
             "train": movie[test_size + dev_size:]}
    if max_train_examples is not None:
        parts["train"] = parts["train"][:max_train_examples]
    output = pathlib.Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    out_of_domain = {}
    for name in OUT_OF_DOMAIN:
        path = source / f"{name}_GroundTruth.txt"
        if path.is_file():
            parts[name] = binary(read_ground_truth(path))
            out_of_domain[name] = output / f"{name}.tsv"
    for name, rows in parts.items():
        atomic_write_text(output / f"{name}.tsv", _tsv(rows))
    return SentimentSplit(output, out_of_domain, {name: len(rows) for name, rows in parts.items()})


def _tsv(rows: list[tuple[str, str]]) -> str:
    # Unquoted, as GLUE's tsv files: tabs and line breaks inside a text become spaces.
    lines = [f"{TEXT_COLUMN}\t{LABEL_COLUMN}"] + [f"{' '.join(text.split())}\t{label}" for text, label in rows]
    return "\n".join(lines) + "\n"


def read_split_file(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Texts and labels of a tsv file written by `write_split`."""
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for text, label in reader:
            texts.append(text)
            labels.append(label)
    return texts, labels
