"""`albert create-data`: documents -> sharded SOP (or NSP) / n-gram-masked TFRecords."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    from albert_tf.data.create_pretraining_data import SENTENCE_TASKS, PretrainingDataConfig
    from albert_tf.cli.shared_arguments import fraction, non_negative_int, number_in, positive_int

    probability = number_in(0, 1, low_open=True, high_open=True)

    defaults = PretrainingDataConfig()
    parser = subparsers.add_parser(
        "create-data",
        help="turn documents into sharded pretraining TFRecords (SOP + n-gram masking)",
        description=(
            "Reads documents (text files with one sentence per line and a blank line between documents, "
            "or MediaWiki XML dumps; .bz2/.gz read directly), builds sentence-order pairs (label 1 = swapped; "
            "or BERT's next-sentence pairs with --sentence-task nsp, label 1 = B from another document) "
            "with n-gram masking, and writes part-*.tfrecord files plus metadata.json (which records the "
            "sentence task and its label meaning). The same --seed gives "
            "byte-identical files whatever --num-workers; a rerun into the same --output-dir resumes."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help="input files or glob patterns (quote globs)")
    parser.add_argument("--spm-model", required=True, help="SentencePiece model (e.g. from `albert train-spm`)")
    parser.add_argument("--output-dir", required=True, help="directory for the record shards")
    parser.add_argument("--max-seq-length", type=positive_int, default=defaults.max_seq_length,
                        help="tokens per example, [CLS] and [SEP]s included")
    parser.add_argument("--max-predictions-per-seq", type=positive_int, default=defaults.max_predictions_per_seq,
                        help="most masked tokens predicted per example")
    parser.add_argument("--masked-lm-prob", type=probability, default=defaults.masked_lm_prob,
                        help="fraction of tokens masked")
    parser.add_argument("--max-ngram", type=positive_int, default=defaults.max_ngram, help="longest masked n-gram, in words")
    parser.add_argument("--short-seq-prob", type=fraction, default=defaults.short_seq_prob,
                        help="fraction of examples made shorter than --max-seq-length, as in the original recipe")
    parser.add_argument("--dupe-factor", type=positive_int, default=defaults.dupe_factor,
                        help="passes over the data, each with different masks")
    parser.add_argument("--documents-per-shard", type=positive_int, default=defaults.documents_per_shard,
                        help="documents per work unit and output file")
    parser.add_argument("--seed", type=non_negative_int, default=defaults.seed,
                        help="random seed; the same seed and inputs give byte-identical files")
    parser.add_argument("--sentence-task", choices=SENTENCE_TASKS, default=defaults.sentence_task,
                        help="sop: ALBERT's sentence order; nsp: BERT's next sentence, negatives from another "
                             "document of the same --documents-per-shard block (for ablations)")
    parser.add_argument("--num-workers", type=positive_int, default=1,
                        help="processes on this machine: this one and N-1 worker processes that do not load "
                             "TensorFlow (output is the same bytes for any N)")
    parser.add_argument("--num-shards", type=positive_int, default=1, help="jobs sharing the work (cluster job array)")
    parser.add_argument("--shard-index", type=non_negative_int, default=0, help="this job's index in [0, num-shards)")
    parser.add_argument("--skip-invalid-utf8", action="store_true",
                        help="skip and count lines that are not UTF-8 instead of stopping")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar; bars are drawn only when stderr is a terminal")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data

    config = PretrainingDataConfig(
        max_seq_length=args.max_seq_length,
        max_predictions_per_seq=args.max_predictions_per_seq,
        masked_lm_prob=args.masked_lm_prob,
        max_ngram=args.max_ngram,
        short_seq_prob=args.short_seq_prob,
        dupe_factor=args.dupe_factor,
        documents_per_shard=args.documents_per_shard,
        seed=args.seed,
        sentence_task=args.sentence_task,
    )
    stats = create_pretraining_data(
        args.input, args.spm_model, args.output_dir, config,
        num_workers=args.num_workers, num_shards=args.num_shards, shard_index=args.shard_index,
        skip_invalid_utf8=args.skip_invalid_utf8, progress=not args.no_progress,
    )
    nsp = config.sentence_task == "nsp"
    positives, what = (stats.random_next, "random next") if nsp else (stats.swapped, "swapped")
    share = positives / stats.examples if stats.examples else 0.0
    masked = stats.predictions / stats.real_tokens if stats.real_tokens else 0.0
    print(
        f"wrote {stats.examples:,} examples from {stats.documents:,} documents "
        f"({stats.written_shards} new shards, {stats.resumed_shards} already present) to {args.output_dir}; "
        f"{what} {share:.1%}, predicted {masked:.1%} of tokens"
    )
    if stats.skipped_lines:
        print(f"skipped {stats.skipped_lines:,} lines that were not UTF-8")
    return 0
