"""`albert demo`: from a fresh clone to a pretrained, fine-tuned, exported ALBERT."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the whole pipeline on a real corpus in about 10 CPU minutes",
        description=(
            "Gets a real corpus (the English Wikipedia excerpt shipped in the gensim==4.4.0 wheel on PyPI, or "
            "--corpus), trains a SentencePiece vocabulary, writes n-gram-masked sentence-order records, pretrains "
            "albert_tiny (MLM + SOP, held-out evaluation), fine-tunes a classifier on --glue-dir (else shows "
            "fill-mask predictions and uses the pretrained sentence-order head), exports a TF Serving SavedModel "
            "and a dynamic-int8 TFLite bundle, runs both on a few inputs side by side and writes OUTPUT_DIR/"
            "report.md and training_curves.png. Rerunning the same command resumes an interrupted run; a finished "
            "run is never overwritten."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--output-dir", default="runs/demo", help="the run folder")
    parser.add_argument("--corpus", default=None,
                        help="text (one sentence per line, blank line between documents) or a Wikipedia XML dump; "
                             "default: the gensim wheel's Wikipedia excerpt")
    parser.add_argument("--glue-dir", default=None, help="a GLUE task folder to fine-tune on, e.g. glue/SST-2")
    parser.add_argument("--glue-task", default="sst2", help="the GLUE task of --glue-dir")
    parser.add_argument("--max-documents", type=int, default=None, help="read at most this many documents")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--dupe-factor", type=int, default=5)
    parser.add_argument("--train-steps", type=int, default=2000)
    parser.add_argument("--steps-per-checkpoint", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--finetune-examples", type=int, default=3000)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--export-seq-length", type=int, default=64)
    parser.add_argument("--cache-dir", default=None, help="where the downloaded corpus is kept (default ~/.cache/albert_tf)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_tf.demo.pipeline import DemoSettings, run_demo

    optional = {"cache_dir": args.cache_dir} if args.cache_dir else {}
    settings = DemoSettings(
        output_dir=args.output_dir, corpus=args.corpus, glue_dir=args.glue_dir, glue_task=args.glue_task,
        max_documents=args.max_documents, vocab_size=args.vocab_size, seq_length=args.seq_length,
        dupe_factor=args.dupe_factor, train_steps=args.train_steps, steps_per_checkpoint=args.steps_per_checkpoint,
        batch_size=args.batch_size, learning_rate=args.learning_rate, finetune_examples=args.finetune_examples,
        finetune_epochs=args.finetune_epochs, export_seq_length=args.export_seq_length,
        progress=not args.no_progress, **optional,
    )
    run_demo(settings)
    return 0
