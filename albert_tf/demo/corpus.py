"""The demo's default corpus: the English Wikipedia excerpt inside gensim's wheel.

Model hubs and dataset sites are out of reach on many machines, but PyPI is
not: the `gensim==4.4.0` wheel carries a 1.7 MB bzip2 excerpt of an English
Wikipedia dump among its test data. `pip download` fetches the wheel (no
install, no dependencies) and the excerpt is unzipped from it; the wheel
itself is deleted afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

GENSIM_REQUIREMENT = "gensim==4.4.0"
EXCERPT_MEMBER = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
EXCERPT_NAME = pathlib.PurePosixPath(EXCERPT_MEMBER).name


class CorpusUnavailableError(ValueError):
    """The default corpus could not be fetched (a ValueError, so the CLI prints one line)."""


def wikipedia_excerpt(cache_dir: str | os.PathLike) -> pathlib.Path:
    """Path of the Wikipedia XML excerpt, fetched into `cache_dir` on first use.

    Raises:
        CorpusUnavailableError: pip could not download the wheel (no route to
            PyPI); the message says how to pass a corpus instead.
    """
    cache = pathlib.Path(cache_dir)
    target = cache / EXCERPT_NAME
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as scratch:
        command = [sys.executable, "-m", "pip", "download", GENSIM_REQUIREMENT, "--no-deps",
                   "--only-binary", ":all:", "--dest", scratch, "--quiet"]
        completed = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(pathlib.Path(scratch).glob("gensim-*.whl"))
        if completed.returncode != 0 or not wheels:
            raise CorpusUnavailableError(
                f"could not download {GENSIM_REQUIREMENT} from PyPI to get the Wikipedia excerpt "
                f"({completed.stderr.strip().splitlines()[-1:] or 'no wheel'}); pass a corpus with --corpus "
                "(plain text, one sentence per line, blank lines between documents, or a "
                "pages-articles XML dump)")
        with zipfile.ZipFile(wheels[0]) as wheel:
            if EXCERPT_MEMBER not in wheel.namelist():
                raise CorpusUnavailableError(f"{wheels[0].name} has no {EXCERPT_MEMBER}; pass a corpus with --corpus")
            partial = pathlib.Path(scratch) / EXCERPT_NAME
            partial.write_bytes(wheel.read(EXCERPT_MEMBER))
        os.replace(partial, target)  # atomic: a half-written excerpt is never left under its name
    return target


@dataclasses.dataclass(frozen=True)
class CorpusSplit:
    """The demo's documents as text files (one sentence per line, blank line between documents)."""

    train_path: pathlib.Path
    heldout_path: pathlib.Path
    train_documents: int
    heldout_documents: int
    train_sentences: int
    heldout_sentences: int


def split_corpus(source: str | os.PathLike, output_dir: str | os.PathLike, max_documents: int | None = None,
                 heldout_every: int = 8, progress: bool = True) -> CorpusSplit:
    """Reads `source` (text or a Wikipedia XML dump) and writes every
    `heldout_every`-th document to `heldout.txt`, the rest to `train.txt`.

    Holding out whole documents (not sentences) keeps the held-out SOP pairs
    free of text the model trained on. Both files are written atomically.
    """
    from tqdm.auto import tqdm

    from albert_tf.data.documents import read_documents
    from albert_tf.io_utils import atomic_write_text

    documents = []
    for document in tqdm(read_documents(source), desc="reading corpus", unit=" documents", disable=not progress):
        documents.append(document)
        if max_documents is not None and len(documents) >= max_documents:
            break
    if len(documents) < 2:
        raise ValueError(f"{source} holds {len(documents)} document(s); the demo needs at least 2 "
                         "(one to train on, one held out).")
    heldout_every = min(heldout_every, len(documents))
    heldout = [doc for index, doc in enumerate(documents) if index % heldout_every == heldout_every - 1]
    train = [doc for index, doc in enumerate(documents) if index % heldout_every != heldout_every - 1]
    output = pathlib.Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)

    def text(docs):
        return "\n\n".join("\n".join(sentences) for sentences in docs) + "\n"

    atomic_write_text(output / "train.txt", text(train))
    atomic_write_text(output / "heldout.txt", text(heldout))
    return CorpusSplit(output / "train.txt", output / "heldout.txt", len(train), len(heldout),
                       sum(map(len, train)), sum(map(len, heldout)))
