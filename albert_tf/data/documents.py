"""Reading pretraining documents from text files and Wikipedia XML dumps.

A document is a list of sentences. Two input formats, either plain or
compressed (`.bz2`, `.gz`, read as streams):

* text: one sentence per line, a blank line between documents (the BERT and
  ALBERT convention);
* a MediaWiki XML dump (`pages-articles*.xml[.bz2]`): articles only (namespace
  0, no redirects); markup removed with mwparserfromhell; reference-like
  trailing sections dropped; paragraphs split into sentences with syntok.

Wikipedia pages are returned raw (`RawWikiPage`) by the reader and cleaned by
`wiki_page_sentences`, so that the expensive cleaning can run in worker
processes while one process streams the dump.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import io
import os
import xml.etree.ElementTree as ElementTree
from typing import IO, Iterator, Literal, Union

DecodeErrorPolicy = Literal["raise", "skip"]

# Sections after which an article holds lists and citations, not prose.
_NON_PROSE_SECTIONS = {
    "references", "external links", "see also", "further reading", "notes", "bibliography",
    "sources", "citations", "footnotes", "notes and references",
}
_DROPPED_TAGS = {"ref", "gallery", "math", "table", "references", "timeline", "imagemap", "score", "chem"}
_DROPPED_LINK_PREFIXES = ("file:", "image:", "category:", "media:")
# Paragraphs shorter than this (in words) are headings, captions or list debris.
_MIN_PARAGRAPH_WORDS = 6


@dataclasses.dataclass(frozen=True)
class RawWikiPage:
    """One article's wikitext, as read from the dump."""

    title: str
    wikitext: str


RawDocument = Union[list[str], RawWikiPage]


@dataclasses.dataclass
class ReadStats:
    """What reading skipped, for the run summary."""

    skipped_lines: int = 0
    skipped_pages: int = 0


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Opens `path` for reading bytes, decompressing `.bz2` and `.gz` on the fly."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"Input file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"Input path is a directory, not a file: {path}")
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def is_wiki_dump(path: str | os.PathLike) -> bool:
    """True for a MediaWiki XML dump (by name, or by its first bytes)."""
    name = os.fspath(path).removesuffix(".bz2").removesuffix(".gz")
    if name.endswith(".xml"):
        return True
    with open_binary(path) as stream:
        try:
            head = stream.read(512)
        except (OSError, EOFError) as error:
            raise ValueError(f"Cannot read {os.fspath(path)}: {error}") from None
    return head.lstrip().startswith(b"<mediawiki")


def read_raw_documents(path: str | os.PathLike, on_decode_error: DecodeErrorPolicy = "raise",
                       stats: ReadStats | None = None) -> Iterator[RawDocument]:
    """Streams the documents of one input file.

    Text files yield lists of sentences; wiki dumps yield `RawWikiPage`s (pass
    them to `wiki_page_sentences`). Empty documents are dropped.

    Args:
        path: a text file or a MediaWiki XML dump, plain, `.bz2` or `.gz`.
        on_decode_error: `raise` a ValueError naming the file and line of the
            first line that is not UTF-8, or `skip` such lines (counted in `stats`).
        stats: receives the counts of what was skipped.
    """
    stats = stats if stats is not None else ReadStats()
    if is_wiki_dump(path):
        yield from _read_wiki_pages(path)
    else:
        yield from _read_text_documents(path, on_decode_error, stats)


class InvalidUtf8Error(ValueError):
    """A line of an input file is not UTF-8 (the message names the file and line)."""


def read_documents(path: str | os.PathLike, on_decode_error: DecodeErrorPolicy = "raise",
                   stats: ReadStats | None = None) -> Iterator[list[str]]:
    """Streams the documents of one input file as lists of sentences."""
    for document in read_raw_documents(path, on_decode_error, stats):
        sentences = wiki_page_sentences(document) if isinstance(document, RawWikiPage) else document
        if sentences:
            yield sentences


def _read_text_documents(path, on_decode_error: DecodeErrorPolicy, stats: ReadStats) -> Iterator[list[str]]:
    document: list[str] = []
    with open_binary(path) as stream:
        for line_number, raw_line in enumerate(_lines(stream, path), start=1):
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError as error:
                if on_decode_error == "skip":
                    stats.skipped_lines += 1
                    continue
                # No command-line flag in the message: commands that can skip
                # such lines (`albert create-data`) add theirs.
                raise InvalidUtf8Error(
                    f"{os.fspath(path)}:{line_number}: not valid UTF-8 (byte {raw_line[error.start]:#04x} at "
                    f"column {error.start + 1}). Convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) "
                    "or remove the line."
                ) from None
            line = line.strip()
            if line:
                document.append(line)
            elif document:
                yield document
                document = []
    if document:
        yield document


def _lines(stream: IO[bytes], path) -> Iterator[bytes]:
    try:
        yield from io.BufferedReader(stream) if not isinstance(stream, io.BufferedIOBase) else stream
    except (OSError, EOFError) as error:  # truncated or corrupt .bz2 / .gz
        raise ValueError(f"Cannot read {os.fspath(path)}: {error} (is the archive complete?)") from None


def _read_wiki_pages(path) -> Iterator[RawWikiPage]:
    with open_binary(path) as stream:
        try:
            for _, element in ElementTree.iterparse(stream, events=("end",)):
                if _local_name(element.tag) != "page":
                    continue
                namespace = element.findtext("{*}ns")
                is_redirect = element.find("{*}redirect") is not None
                wikitext = element.findtext("{*}revision/{*}text") or ""
                title = element.findtext("{*}title") or ""
                element.clear()
                if namespace == "0" and not is_redirect and wikitext.strip():
                    yield RawWikiPage(title=title, wikitext=wikitext)
        except ElementTree.ParseError as error:
            raise ValueError(f"{os.fspath(path)}: malformed XML in the wiki dump: {error}") from None
        except (OSError, EOFError) as error:
            raise ValueError(f"Cannot read {os.fspath(path)}: {error} (is the archive complete?)") from None


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def wiki_page_sentences(page: RawWikiPage) -> list[str]:
    """The prose of one article as sentences: markup, references and
    non-prose sections removed."""
    import mwparserfromhell
    from syntok import segmenter

    wikicode = mwparserfromhell.parse(page.wikitext)
    for section in wikicode.get_sections(levels=[2]):
        headings = section.filter_headings(recursive=False)
        if headings and headings[0].title.strip_code().strip().lower() in _NON_PROSE_SECTIONS:
            _remove(wikicode, section)
    for tag in wikicode.filter_tags():
        if str(tag.tag).strip().lower() in _DROPPED_TAGS:
            _remove(wikicode, tag)
    for link in wikicode.filter_wikilinks():
        if str(link.title).strip().lower().startswith(_DROPPED_LINK_PREFIXES):
            _remove(wikicode, link)
    for heading in wikicode.filter_headings():
        _remove(wikicode, heading)
    text = wikicode.strip_code(normalize=True, collapse=True, keep_template_params=False)

    sentences = []
    for paragraph in text.split("\n"):
        if len(paragraph.split()) < _MIN_PARAGRAPH_WORDS:
            continue
        for tokens in (sentence for block in segmenter.process(paragraph) for sentence in block):
            sentence = "".join(token.spacing + token.value for token in tokens).strip()
            if sentence:
                sentences.append(sentence)
    return sentences


def _remove(wikicode, node) -> None:
    # A node may already be gone with an enclosing node removed before it.
    try:
        wikicode.remove(node)
    except ValueError:
        pass
