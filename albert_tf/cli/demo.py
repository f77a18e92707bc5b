"""`albert demo`: from a fresh clone to a pretrained sentiment classifier, checked on device."""

from __future__ import annotations

import argparse


def _learning_rates(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(value) for value in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 3e-4,1e-3; got {text!r}") from None


def add_parser(subparsers) -> None:
    from albert_tf.cli.shared_arguments import HelpFormatter, non_negative_int, positive_float, positive_int
    from albert_tf.training.trainer import DTYPES

    parser = subparsers.add_parser(
        "demo",
        help="pretrain, fine-tune a sentiment classifier, export and check it on device, in about 15 CPU minutes",
        description=(
            "Gets a real corpus (the English Wikipedia excerpt shipped in the gensim==4.4.0 wheel on PyPI, or "
            "--corpus), trains a SentencePiece vocabulary, writes n-gram-masked sentence-order records, pretrains "
            "albert_tiny (MLM + SOP, held-out evaluation), then fine-tunes a binary sentiment classifier on the "
            "human-rated movie-review sentences of the vaderSentiment==3.3.2 sdist on PyPI (or --glue-dir) from "
            "the pretrained model and, as a control, from scratch (same shape, vocabulary, seed and budget; "
            "learning rate chosen on dev). Reports test and out-of-domain (tweets, Amazon) accuracy beside the "
            "majority class and VADER, exports the pretrained classifier as a preset, a TF Serving SavedModel and "
            "a dynamic-int8 TFLite bundle, runs Keras, TFLite and MediaPipe's TextClassifier on the whole test "
            "split and writes OUTPUT_DIR/report.md and training_curves.png. Rerunning the same command resumes "
            "an interrupted run; a finished run is never overwritten."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--output-dir", default="runs/demo", help="the run folder")
    parser.add_argument("--corpus", default=None,
                        help="text (one sentence per line, blank line between documents) or a Wikipedia XML dump; "
                             "default: the gensim wheel's Wikipedia excerpt")
    parser.add_argument("--sentiment-dir", default=None,
                        help="folder of the VADER paper's *_GroundTruth.txt files; default: unpacked from the "
                             "vaderSentiment==3.3.2 sdist")
    parser.add_argument("--glue-dir", default=None,
                        help="a GLUE task folder to fine-tune on instead of the sentiment sentences, e.g. glue/SST-2")
    parser.add_argument("--glue-task", default="sst2", help="the GLUE task of --glue-dir")
    parser.add_argument("--max-documents", type=positive_int, default=None, help="read at most this many documents")
    parser.add_argument("--vocab-size", type=positive_int, default=8000, help="SentencePiece vocabulary size")
    parser.add_argument("--seq-length", type=positive_int, default=128, help="tokens per pretraining sequence")
    parser.add_argument("--dupe-factor", type=positive_int, default=5,
                        help="passes over the corpus when writing records, each with different masks")
    parser.add_argument("--train-steps", type=positive_int, default=2000, help="pretraining steps")
    parser.add_argument("--steps-per-checkpoint", type=positive_int, default=200,
                        help="pretraining steps between checkpoints (how much a killed run can lose)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="pretraining batch")
    parser.add_argument("--learning-rate", type=positive_float, default=0.005, help="pretraining peak learning rate")
    parser.add_argument("--pretraining-dtype", default="auto",
                        choices=DTYPES,
                        help="auto: mixed_bfloat16 on a CPU with native bfloat16 (measured 1.4x faster, same curves), "
                             "else float32")
    parser.add_argument("--finetune-dtype", default="auto",
                        choices=DTYPES,
                        help="the same for fine-tuning (auto measured 1.15x faster, dev accuracy within seed noise)")
    parser.add_argument("--finetune-learning-rates", type=_learning_rates, default=(3e-4, 1e-3),
                        help="comma-separated grid; the best on dev is kept")
    parser.add_argument("--finetune-epochs", type=positive_int, default=2, help="fine-tuning passes over the training set")
    parser.add_argument("--finetune-batch-size", type=positive_int, default=32, help="fine-tuning batch")
    parser.add_argument("--finetune-examples", type=positive_int, default=None, help="use only the first N training rows")
    parser.add_argument("--export-seq-length", type=positive_int, default=64,
                        help="tokens per sentence when fine-tuning and in the exported models")
    parser.add_argument("--seed", type=non_negative_int, default=12345, help="random seed of every step (data, training)")
    parser.add_argument("--cache-dir", default=None,
                        help="where downloads are kept (default ~/.cache/albert_tf)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (log lines only); bars are drawn only when stderr is a terminal")
    parser.set_defaults(run=run, trains=True)


def run(args: argparse.Namespace) -> int:
    from albert_tf.demo.pipeline import DemoSettings, run_demo

    optional = {"cache_dir": args.cache_dir} if args.cache_dir else {}
    settings = DemoSettings(
        output_dir=args.output_dir, corpus=args.corpus, sentiment_dir=args.sentiment_dir, glue_dir=args.glue_dir,
        glue_task=args.glue_task, max_documents=args.max_documents, vocab_size=args.vocab_size,
        seq_length=args.seq_length, dupe_factor=args.dupe_factor, train_steps=args.train_steps,
        steps_per_checkpoint=args.steps_per_checkpoint, batch_size=args.batch_size,
        learning_rate=args.learning_rate, pretraining_dtype=args.pretraining_dtype,
        finetune_dtype=args.finetune_dtype,
        finetune_learning_rates=tuple(args.finetune_learning_rates),
        finetune_epochs=args.finetune_epochs, finetune_batch_size=args.finetune_batch_size,
        finetune_examples=args.finetune_examples, export_seq_length=args.export_seq_length, seed=args.seed,
        progress=not args.no_progress, **optional,
    )
    run_demo(settings, log=print)
    return 0
