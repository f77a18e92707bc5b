"""`albert train-spm`: train a SentencePiece vocabulary for ALBERT."""

from __future__ import annotations

import argparse
import time

from albert_tf.cli.shared_arguments import non_negative_int, number_in, positive_int
from albert_tf.spm_training import ALBERT_USER_DEFINED_SYMBOLS, MODEL_TYPES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-spm",
        help="train a SentencePiece vocabulary with ALBERT's special pieces",
        description=(
            "Trains a SentencePiece model the way the released ALBERT vocabulary was trained: unigram, "
            "<pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4, no BOS/EOS, on text normalized exactly as "
            "AlbertTokenizer normalizes it (lowercased, accents stripped). Writes PREFIX.model and "
            "PREFIX.vocab atomically: nothing is written if training fails."
        ),
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="CORPUS",
        help="text files, one sentence per line (blank lines are skipped); .bz2 and .gz files are read compressed",
    )
    parser.add_argument("--model-prefix", required=True, metavar="PREFIX",
                        help="output path without extension, e.g. vocab/spiece")
    parser.add_argument("--vocab-size", type=positive_int, default=30000,
                        help="pieces in the vocabulary, specials included (default: 30000)")
    parser.add_argument("--model-type", choices=MODEL_TYPES, default="unigram", help="default: unigram (ALBERT's)")
    parser.add_argument("--character-coverage", type=number_in(0, 1, low_open=True), default=0.99995,
                        help="fraction of characters the vocabulary covers; the rest become <unk> (default: 0.99995)")
    parser.add_argument("--input-sentence-size", type=non_negative_int, default=10_000_000, metavar="N",
                        help="train on a uniform sample of at most N (> 100) lines of a large corpus; 0: every line "
                             "(default: 10000000). The sample is the same on every run (SentencePiece seeds it "
                             "with a constant)")
    parser.add_argument("--no-lower-case", dest="lower_case", action="store_false",
                        help="keep case (then use AlbertTokenizer(..., lower_case=False) too)")
    parser.add_argument("--keep-accents", dest="strip_accents", action="store_false",
                        help="keep accents (then use AlbertTokenizer(..., strip_accents=False) too)")
    parser.add_argument(
        "--user-defined-symbols", default=",".join(ALBERT_USER_DEFINED_SYMBOLS), metavar="S1,S2,...",
        help="comma-separated strings kept as single pieces; '' for none "
             f"(default: {','.join(ALBERT_USER_DEFINED_SYMBOLS)}, as the released model)",
    )
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing PREFIX.model / PREFIX.vocab (refused without it)")
    parser.add_argument("--threads", type=positive_int, default=None, help="training threads (default: all cores)")
    parser.add_argument("--verbose", action="store_true", help="show SentencePiece's training log")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar of the lines read; bars are drawn only when stderr is a terminal")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_tf.spm_training import train_sentencepiece
    from albert_tf.tokenizer import AlbertTokenizer

    symbols = [symbol for symbol in args.user_defined_symbols.split(",") if symbol]
    start = time.perf_counter()
    print(f"Training a {args.model_type} vocabulary of {args.vocab_size:,} pieces on {len(args.inputs)} file(s) ...")
    model_path = train_sentencepiece(
        args.inputs,
        args.model_prefix,
        vocab_size=args.vocab_size,
        character_coverage=args.character_coverage,
        input_sentence_size=args.input_sentence_size,
        model_type=args.model_type,
        lower_case=args.lower_case,
        strip_accents=args.strip_accents,
        user_defined_symbols=symbols,
        num_threads=args.threads,
        verbose=args.verbose,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    tokenizer = AlbertTokenizer(model_path, lower_case=args.lower_case, strip_accents=args.strip_accents)
    specials = " ".join(
        f"{tokenizer.id_to_piece(index)}={index}"
        for index in (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id)
    )
    print(f"Wrote {model_path} and {model_path.with_suffix('.vocab')} in {time.perf_counter() - start:.1f} s")
    print(f"  {tokenizer.vocab_size:,} pieces; {specials}")
    print(f"  example: {tokenizer.tokenize('The quick brown fox jumped over the lazy dog in 1990, twice.')}")
    return 0
