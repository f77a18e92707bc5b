"""ALBERT's text preprocessing folded into a SentencePiece normalizer.

The text-in TFLite model tokenizes with tf-text's `FastSentencepieceTokenize`
custom op, which LiteRT runs through tf-text's op registrar. LiteRT has no
string ops of its own, and the Flex delegate that would run TensorFlow's is
in neither the tensorflow nor the ai-edge-litert wheel, so the steps ALBERT
takes before SentencePiece (`albert_tf.tokenizer.normalize_text`: whitespace
collapse, LaTeX quotes, accent stripping, lowercasing) cannot be graph ops
there. They do not need to be: each is a rewrite of single characters (plus
the two-character quote rules), and SentencePiece's normalizer is itself a
longest-match rewrite table (`precompiled_charsmap`). Composing the two gives
one table,

    folded(key) = charsmap(fold_characters(key))    (whitespace -> " " first)

over every code point, every key of the model's own table and the quote
pairs; SentencePiece's `remove_extra_whitespaces` then does the collapse.
The sentencepiece library decompiles and recompiles the tables
(`SentencePieceNormalizer.Decompile` / `norm_map`), so nothing here parses
the binary format.

Where a table cannot equal the Python steps exactly: `str.lower()` maps a
word-final capital sigma to "ς" (a context rule; the table always gives
"σ"), and a character sequence that composes under NFKC only once accents
are stripped from its middle. tests/test_export_text_model.py measures the
agreement on real text.
"""

from __future__ import annotations

import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

from albert_tf.tokenizer import fold_characters

_SURROGATES = range(0xD800, 0xE000)  # not encodable as UTF-8 text


def fold_preprocessing(spm_model: bytes, lower_case: bool = True, strip_accents: bool = True) -> bytes:
    """A copy of a SentencePiece model whose normalizer also does ALBERT's preprocessing.

    Args:
        spm_model: the serialized `.model` (ModelProto bytes).
        lower_case: fold lowercasing in, as `AlbertTokenizer(lower_case=...)`.
        strip_accents: fold NFKD + combining-mark removal in.

    Returns:
        Serialized ModelProto bytes: the same pieces and scores; SentencePiece
        on raw text with it gives the ids `AlbertTokenizer.encode` gives with
        `split_digit_comma=False` (the digit-comma rule works on ids and is
        applied after tokenization). Takes a few seconds (one rewrite per code
        point).
    """
    model = sentencepiece_model_pb2.ModelProto.FromString(spm_model)
    # The model's table alone: no dummy prefix, whitespace left as it is.
    charsmap = spm.SentencePieceNormalizer(
        model_proto=spm_model, add_dummy_prefix=False, remove_extra_whitespaces=False, escape_whitespaces=False)

    keys = {source for source, _ in charsmap.Decompile()}
    keys.update(chr(code) for code in range(sys.maxunicode + 1) if code not in _SURROGATES)
    keys.update(("``", "''"))
    rules = []
    for key in sorted(keys):
        spaced = "".join(" " if char.isspace() else char for char in key)
        target = charsmap.Normalize(fold_characters(spaced, lower_case, strip_accents))
        if target != key:
            rules.append((key, target))

    compiled = spm.SentencePieceNormalizer(norm_map=rules)
    spec = sentencepiece_model_pb2.NormalizerSpec.FromString(compiled.serialized_normalizer_spec())
    model.normalizer_spec.precompiled_charsmap = spec.precompiled_charsmap
    model.normalizer_spec.name = f"{model.normalizer_spec.name or 'identity'}+albert_preprocessing"
    # Python's " ".join(text.split()) collapses and strips; SentencePiece does it after the table.
    model.normalizer_spec.remove_extra_whitespaces = True
    return model.SerializeToString()
