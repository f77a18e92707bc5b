#!/usr/bin/env python3
"""Test fixtures for the Kotlin core, generated from the Python tokenizer.

Writes, into --out (a temporary directory; nothing here is committed):

* `spm_vocab.tsv`: one line per SentencePiece piece in id order,
  `piece<TAB>score<TAB>type` (the layout of the export bundle's file);
* `golden_tokenizer.json`: what `albert_tf.tokenizer.AlbertTokenizer` (the
  reference) produces for real text: SST-2 dev sentences, Wikipedia markup,
  the Gutenberg sample, hand-written edge cases (accents, digits, quotes,
  CJK, emoji, control characters, very long inputs, the empty string, pairs
  with truncation) and a sweep over every assigned Unicode code point; plus
  softmax / top-k outputs computed with numpy.

Usage: python make_golden.py --spm_model spiece.model --out DIR
"""

from __future__ import annotations

import argparse
import bz2
import html
import json
import pathlib
import random
import re
import sys
import unicodedata

import numpy as np
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

from albert_tf.tokenizer import AlbertTokenizer, truncated_pair_lengths

TYPE_NAMES = {1: "NORMAL", 2: "UNKNOWN", 3: "CONTROL", 4: "USER_DEFINED", 5: "UNUSED", 6: "BYTE"}

HAND_CASES = [
    "",
    " ",
    "   \t\n  ",
    "Hello, World!",
    "Héllo, Wörld! Ça va? Señor Muñoz, naïve café, São Paulo, Ångström, Œuvre, Straße",
    "ÀÁÂÃÄÅ àáâãäå ÈÉÊË èéêë Ì Í Î Ï ñ Ñ ç Ç ø Ø ł Ł đ Đ",
    "ﬁnancial ﬂow, ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３, ① ② ③, ², ½, ™, №, ㎞",
    "1,000,000 people paid $3.14 or 2,5 euros; 1990, 2001,2002 and 10,000s of them.",
    "Pi is 3.14159, e is 2.71828, and 1e-10 is small; 007, 0.5%, -12, +34, 5/8, 12:30pm.",
    "$1990, £1,000, €2,50, ¥300, 1,2,3,4,5,",
    "``Quoted'' text, ''double single'' and `single' quotes, “curly” ‘quotes’ «guillemets» „low“",
    'He said "yes" -- and she said \'no\'... (really?) [maybe] {ok} <tag> #hash @user a&b a|b a\\b ~tilde^caret',
    "Punctuation!!! ??? ... ,,, ;;; ::: --- ___ *** /// %%% === +++",
    "Dashes – — ‒ ― and ellipsis … and bullets • ◦ and section § and pilcrow ¶",
    "中文字符测试，日本語のテキスト、한국어 텍스트입니다。",
    "力加勝北区ᴵᴺᵀᵃছজটডণত",
    "Emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇺🇸 ❤️ ☃ ♥ and math ∑∫∂√∞ ≠ ≤ ≥",
    "Greek ΑΒΓΔ αβγδ ΟΔΥΣΣΕΥΣ Σίσυφος, Cyrillic Привет мир, Hebrew שלום, Arabic مرحبا",
    "Hindi नमस्ते दुनिया, Tamil வணக்கம், Thai สวัสดีครับ, Vietnamese Tiếng Việt có dấu",
    "İstanbul ıi Iİ, DŽ ǅ ǆ, ß ẞ, ﬀ ﬃ, Ǆ",
    "Zero\u200bwidth\u200cjoin\u200dner, soft\u00adhyphen, bom\ufeffmark, nbsp\u00a0here, thin\u2009space, ideographic\u3000space",
    "control\x01chars\x07here\x1fand\x7fdel, tab\tand\nnewline\r\nand\x0bvt\x0cff, \x85nel, \u2028ls\u2029ps",
    "line one\n\nline two\n   indented   line   ",
    "\u2581already\u2581escaped \u2581 marker",
    "replacement \ufffd char and unassigned \U000e0001 tag and private use \ue000",
    "UPPERCASE TEXT SHOULD BE LOWERCASED BY THE TOKENIZER",
    "MiXeD CaSe WoRdS wItH nUmBeRs 123ABC abc123 a1b2c3",
    "email@example.com https://www.example.org/path?query=1&x=y#frag C:\\Windows\\path",
    "it's isn't can't won't y'all o'clock rock'n'roll",
    "a",
    "A.",
    ".",
    "(",
    "\"",
    "–",
    "£€",
    "((()))...---\"\"",
    "x" * 300,
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    " ".join(["the quick brown fox jumps over the lazy dog"] * 60),
    "1" * 100 + "," + "2" * 50,
    "é" * 50 + " " + "\u0301" * 10 + "e\u0301\u0302\u0303",
    "\u0301leading combining mark and trailing e\u0301",
    "Hangul jamo \u1100\u1161\u11a8 and syllable 각 and halfwidth ﾡ ﾢ",
    "Nested (quotes \"inside 'parens'\") and [brackets {braces}]",
    "Tabs\tbetween\twords\tand\u00a0non\u00a0breaking\u00a0spaces",
]

HAND_PAIRS = [
    ("Is this a question?", "This is the answer, with 1,000 details.", 32),
    ("", "Only the second segment.", 16),
    ("Only the first segment.", "", 16),
    ("", "", 8),
    ("short", "a much much longer second segment that has to be truncated from its end " * 4, 24),
    ("a much much longer first segment that has to be truncated from its end " * 4, "short", 24),
    ("equal length one two three four five six", "equal length one two three four five six", 16),
    ("Who wrote Hamlet?", "Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601.", 128),
    ("Où est la tour Eiffel ?", "La tour Eiffel est à Paris, construite en 1889 ; elle mesure 330 mètres.", 20),
]


def sst2_sentences(path: pathlib.Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[0] for line in lines if line.strip()]


def wiki_texts(path: pathlib.Path, count: int, seed: int) -> list[str]:
    """Lines of Wikipedia article markup (unescaped), spread over the dump."""
    with bz2.open(path, "rt", encoding="utf-8") as handle:
        lines = [html.unescape(line.strip()) for line in handle]
    lines = [line for line in lines if len(line) >= 20 and not line.startswith("<")]
    rng = random.Random(seed)
    picked = rng.sample(lines, min(count, len(lines)))
    # Cut very long paragraphs to keep the golden file small, at a random place
    # (which also makes texts that end mid-word or mid-number).
    return [line if len(line) <= 1500 else line[: rng.randint(200, 1500)] for line in picked]


def unicode_sweep(chunk: int = 32) -> list[str]:
    """Every assigned code point (surrogates and supplementary private use left out), each after an 'a'."""
    points = []
    for cp in range(0x110000):
        category = unicodedata.category(chr(cp))
        if category in ("Cn", "Cs") or (category == "Co" and cp > 0xFFFF):
            continue
        points.append(cp)
    return [" ".join("a" + chr(cp) for cp in points[i:i + chunk]) for i in range(0, len(points), chunk)]


def vocab_rows(proto: bytes) -> list[str]:
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    rows = []
    for piece in model.pieces:
        # repr of the float32 score's exact double value: parses back to the same float32.
        rows.append(f"{piece.piece}\t{float(np.float32(piece.score))!r}\t{TYPE_NAMES[piece.type]}")
    return rows


def softmax_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    logit_sets = [rng.normal(0, scale, size=size).astype(np.float32) for scale, size in
                  [(1, 2), (3, 2), (1, 3), (5, 5), (10, 10), (0.1, 7), (20, 30)]]
    logit_sets += [np.array(v, np.float32) for v in
                   [[0, 0], [1000, -1000], [-1000, -999], [88.0, 89.0, 90.0], [3.5], [2, 2, 1, 2], [-1e-3, 1e-3]]]
    cases = []
    for logits in logit_sets:
        shifted = logits.astype(np.float64) - logits.max()
        probabilities = np.exp(shifted) / np.exp(shifted).sum()
        order = np.argsort(-probabilities, kind="stable")
        cases.append({"logits": [float(x) for x in logits], "probabilities": [float(x) for x in probabilities],
                      "top_k": [int(i) for i in order[: min(3, len(order))]]})
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spm_model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--sst2", default=None, help="GLUE SST-2 dev.tsv (optional)")
    parser.add_argument("--wiki", default=None, help="a Wikipedia .xml.bz2 dump (optional)")
    parser.add_argument("--text", default=None, help="a plain text file, one sentence per line (optional)")
    parser.add_argument("--wiki_count", type=int, default=600)
    args = parser.parse_args(argv)

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    proto = pathlib.Path(args.spm_model).read_bytes()
    tokenizer = AlbertTokenizer(args.spm_model)
    normalizer = spm.SentencePieceNormalizer(model_proto=proto)

    (out / "spm_vocab.tsv").write_text("\n".join(vocab_rows(proto)) + "\n", encoding="utf-8")

    sources: list[tuple[str, str]] = [("hand", text) for text in HAND_CASES]
    if args.sst2 and pathlib.Path(args.sst2).exists():
        sources += [("sst2", text) for text in sst2_sentences(pathlib.Path(args.sst2))]
    if args.wiki and pathlib.Path(args.wiki).exists():
        sources += [("wiki", text) for text in wiki_texts(pathlib.Path(args.wiki), args.wiki_count, seed=0)]
    if args.text and pathlib.Path(args.text).exists():
        sources += [("text", line) for line in pathlib.Path(args.text).read_text(encoding="utf-8").splitlines()]
    sweep = unicode_sweep()

    def spm_normalized(text: str) -> str:
        return normalizer.normalize(tokenizer.normalize(text))

    records = []
    for index, (source, text) in enumerate(sources):
        record = {"source": source, "text": text, "normalized": spm_normalized(text), "ids": tokenizer.encode(text)}
        if index % 7 == 0 or source == "hand":  # packed inputs for a share of them, at a few lengths
            length = [8, 16, 64, 128][index % 4]
            record.update(max_seq_length=length, **tokenizer.encode_pair(text, None, length))
        records.append(record)
    rng = random.Random(1)
    pairs = list(HAND_PAIRS)
    plain = [text for source, text in sources if source != "hand"]
    for _ in range(60 if plain else 0):
        pairs.append((rng.choice(plain), rng.choice(plain), rng.choice([8, 16, 32, 64, 128])))
    for text_a, text_b, length in pairs:
        record = {"source": "pair", "text": text_a, "text_pair": text_b, "max_seq_length": length,
                  "normalized": spm_normalized(text_a), "ids": tokenizer.encode(text_a),
                  **tokenizer.encode_pair(text_a, text_b, length)}
        records.append(record)
    sweep_records = []
    for text in sweep:
        items = text.split(" ")
        sweep_records.append({"text": text, "normalized": spm_normalized(text), "ids": tokenizer.encode(text),
                              # each "a"+code point alone, to name the code point when a chunk differs
                              "item_ids": [tokenizer.encode(item) for item in items]})

    golden = {
        "spm_model": str(args.spm_model),
        "special_ids": {"pad": tokenizer.pad_id, "unk": tokenizer.unk_id, "cls": tokenizer.cls_id,
                        "sep": tokenizer.sep_id, "mask": tokenizer.mask_id},
        "python_whitespace": [cp for cp in range(0x110000) if chr(cp).isspace()],
        "digit_comma_table": {str(k): list(v) for k, v in sorted(tokenizer.digit_comma_table.items())},
        "truncated_pair_lengths": [[a, b, budget, *truncated_pair_lengths(a, b, budget)]
                                   for a in range(0, 12) for b in range(0, 12) for budget in (1, 4, 5, 9, 30)],
        "records": records,
        "unicode_sweep": sweep_records,
        "softmax": softmax_cases(seed=0),
    }
    (out / "golden_tokenizer.json").write_text(json.dumps(golden, ensure_ascii=True), encoding="utf-8")
    print(f"wrote {out}/spm_vocab.tsv and golden_tokenizer.json: {len(records)} texts, "
          f"{len(sweep_records)} Unicode sweep chunks, {len(golden['softmax'])} softmax cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
