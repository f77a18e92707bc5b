"""`albert finetune`: fine-tune on GLUE, SQuAD, RACE or a CSV/TSV classification task."""

from __future__ import annotations

import argparse

TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli", "squad1", "squad2", "race", "csv", "tsv")


def add_parser(subparsers) -> None:
    from albert_tf.cli.shared_arguments import add_distribution_arguments, add_table_columns_arguments

    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune on GLUE, SQuAD v1.1/v2.0, RACE or a CSV/TSV classification task",
        description=(
            "Fine-tunes a pretrained model (--init PRESET: its encoder and tokenizer) or a model from scratch "
            "(--config) with AdamW and linear warm-up/decay, evaluates on the dev set(s) and writes "
            "OUTPUT_DIR/model/ (a preset: weights, tokenizer, label names, task kind; `albert predict` and "
            "`albert export` take it as is), eval_results.json and predictions (GLUE {TASK}.tsv for test.tsv, "
            "SQuAD predictions.json [+ null_odds.json]). Data layouts: GLUE train.tsv/dev.tsv[/test.tsv] (MNLI: "
            "dev_matched.tsv, dev_mismatched.tsv); SQuAD train-v1.1.json/dev-v1.1.json (or -v2.0); RACE "
            "train|dev|test/{high,middle}/*.txt; csv/tsv train|dev[|test].csv or .tsv with a header."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--task", required=True, choices=TASKS)
    parser.add_argument("--data-dir", required=True, help="the task's data folder")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--spm-model", default=None,
                        help="SentencePiece model of the vocabulary; only needed with --config or a .keras "
                             "--init (a preset carries its own)")
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--init", "--init-checkpoint", dest="init_checkpoint", default=None,
                       help="a preset folder (from albert pretrain, finetune or convert), or a .keras backbone "
                            "or pretrainer")
    start.add_argument("--config", default=None, help="preset name (tiny, base, ...) or config JSON, from scratch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="peak AdamW learning rate")
    parser.add_argument("--warmup-proportion", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--dropout", type=float, default=0.1, help="dropout before the task head")
    parser.add_argument("--batch-size", type=int, default=32, help="global training batch")
    parser.add_argument("--eval-batch-size", type=int, default=None, help="default: --batch-size")
    parser.add_argument("--max-seq-length", type=int, default=None,
                        help="default: 128 (GLUE, csv), 384 (SQuAD), 512 (RACE)")
    parser.add_argument("--doc-stride", type=int, default=128, help="SQuAD window stride in tokens")
    parser.add_argument("--max-query-length", type=int, default=64, help="SQuAD question tokens kept")
    parser.add_argument("--max-answer-length", type=int, default=30, help="SQuAD longest answer in tokens")
    parser.add_argument("--max-qa-length", type=int, default=128, help="RACE question+option tokens kept")
    parser.add_argument("--max-train-examples", type=int, default=None, help="use the first N (small runs)")
    parser.add_argument("--max-eval-examples", type=int, default=None, help="evaluate the first N per split")
    add_table_columns_arguments(parser)
    add_distribution_arguments(parser)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--no-progress", action="store_true", help="one log line per epoch")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT_DIR/model if it exists")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_tf.finetuning import FinetuneSettings, run_finetuning
    from albert_tf.cli.shared_arguments import parse_labels
    from albert_tf.finetuning.runner import MODEL_PRESET, RESULTS_FILE
    from albert_tf.presets import load_config
    from albert_tf.training.strategy import split_cpu

    split_cpu(args.cpu_devices)
    config = load_config(args.config) if args.config is not None else None
    labels = parse_labels(args.labels)
    settings = FinetuneSettings(
        task=args.task, data_dir=args.data_dir, output_dir=args.output_dir, spm_model=args.spm_model,
        config=config, init_checkpoint=args.init_checkpoint, epochs=args.epochs, learning_rate=args.learning_rate,
        warmup_proportion=args.warmup_proportion, batch_size=args.batch_size, eval_batch_size=args.eval_batch_size,
        max_seq_length=args.max_seq_length, doc_stride=args.doc_stride, max_query_length=args.max_query_length,
        max_answer_length=args.max_answer_length, max_qa_length=args.max_qa_length,
        max_train_examples=args.max_train_examples, max_eval_examples=args.max_eval_examples,
        weight_decay=args.weight_decay, dropout=args.dropout, text_column=args.text_column,
        text_pair_column=args.text_pair_column, label_column=args.label_column, labels=labels,
        strategy=args.strategy, tpu=args.tpu, dtype=args.dtype, jit_compile=args.jit_compile, seed=args.seed,
        progress=not args.no_progress, overwrite=args.overwrite,
    )
    result = run_finetuning(settings)
    for split, scores in result.metrics.items():
        shown = ", ".join(f"{name} {value:.4f}" for name, value in scores.items() if isinstance(value, float))
        print(f"{split}: {shown}")
    print(f"results written to {result.output_dir}/{RESULTS_FILE}")
    print(f"model preset written to {result.output_dir}/{MODEL_PRESET} (try: albert predict "
          f"{result.output_dir}/{MODEL_PRESET} \"some text\")")
    return 0
