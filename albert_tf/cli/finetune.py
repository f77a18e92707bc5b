"""`albert finetune`: fine-tune on GLUE, SQuAD, RACE or a CSV/TSV classification task."""

from __future__ import annotations

import argparse
import os

TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli", "squad1", "squad2", "race", "csv", "tsv")


def add_parser(subparsers) -> None:
    from albert_tf.cli.shared_arguments import (HelpFormatter, add_distribution_arguments,
                                                add_table_columns_arguments, dropout_rate, fraction,
                                                non_negative_float, positive_float, positive_int)

    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune on GLUE, SQuAD v1.1/v2.0, RACE or a CSV/TSV classification task",
        description=(
            "Fine-tunes a pretrained model (--init PRESET: its encoder and tokenizer) or a model from scratch "
            "(--config) with AdamW and linear warm-up/decay, evaluating on the dev set with the task's official "
            "metric after every epoch (or --eval-every N steps), and writes OUTPUT_DIR/model/ (the preset of "
            "the best dev checkpoint: weights, tokenizer, label names, task kind; `albert predict` and `albert "
            "export` take it as is), OUTPUT_DIR/last/ (the last checkpoint), eval_results.json (which step each "
            "came from), metrics.csv, curves.png, TensorBoard logs/ and predictions (GLUE {TASK}.tsv for "
            "test.tsv, SQuAD predictions.json [+ null_odds.json]). Rerun the same command after a kill to "
            "resume; a finished run is not redone. Data layouts: GLUE train.tsv/dev.tsv[/test.tsv] (MNLI: "
            "dev_matched.tsv, dev_mismatched.tsv); SQuAD train-v1.1.json/dev-v1.1.json (or -v2.0); RACE "
            "train|dev|test/{high,middle}/*.txt; csv/tsv train|dev[|test].csv or .tsv with a header."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--task", required=True, choices=TASKS,
                        help="GLUE task, squad1/squad2 (SQuAD v1.1/v2.0), race, or csv/tsv for your own "
                             "classification data")
    parser.add_argument("--data-dir", required=True, help="the task's data folder")
    parser.add_argument("--output-dir", required=True,
                        help="run folder (model/, last/, eval_results.json, logs); rerunning into it resumes")
    parser.add_argument("--spm-model", default=None,
                        help="SentencePiece model of the vocabulary; only needed with --config or a .keras "
                             "--init (a preset carries its own)")
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--init", "--init-checkpoint", dest="init_checkpoint", default=None,
                       help="a preset folder (from albert pretrain, finetune or convert), or a .keras backbone "
                            "or pretrainer")
    start.add_argument("--config", default=None, help="preset name (tiny, base, ...) or config JSON, from scratch")
    parser.add_argument("--epochs", type=positive_int, default=3, help="passes over the training set")
    parser.add_argument("--learning-rate", type=positive_float, default=2e-5, help="peak AdamW learning rate")
    parser.add_argument("--warmup-proportion", type=fraction, default=0.1,
                        help="fraction of the training steps with a linear learning-rate warm-up")
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.01,
                        help="AdamW weight decay rate (>= 0; not applied to LayerNorm and bias weights)")
    parser.add_argument("--dropout", type=dropout_rate, default=0.1, help="dropout before the task head, in [0, 1)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="global training batch")
    parser.add_argument("--eval-batch-size", type=positive_int, default=None, help="default: --batch-size")
    parser.add_argument("--max-seq-length", type=positive_int, default=None,
                        help="default: 128 (GLUE, csv), 384 (SQuAD), 512 (RACE)")
    parser.add_argument("--doc-stride", type=positive_int, default=128, help="SQuAD window stride in tokens")
    parser.add_argument("--max-query-length", type=positive_int, default=64, help="SQuAD question tokens kept")
    parser.add_argument("--max-answer-length", type=positive_int, default=30, help="SQuAD longest answer in tokens")
    parser.add_argument("--max-qa-length", type=positive_int, default=128, help="RACE question+option tokens kept")
    parser.add_argument("--max-train-examples", type=positive_int, default=None, help="use the first N (small runs)")
    parser.add_argument("--max-eval-examples", type=positive_int, default=None, help="evaluate the first N per split")
    parser.add_argument("--pad-to-max-length", action="store_true",
                        help="pad every batch to --max-seq-length; by default classification and RACE batches are "
                             "cut to their longest sequence (same results to float rounding, less work on short "
                             "texts; always padded on TPUs)")
    add_table_columns_arguments(parser)
    add_distribution_arguments(parser)
    add_run_arguments(parser)
    parser.set_defaults(run=run, trains=True)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a run on the training core, shared with `albert distill`."""
    from albert_tf.cli.shared_arguments import non_negative_int, positive_int

    parser.add_argument("--eval-every", type=positive_int, default=None,
                        help="steps between dev evaluations and checkpoints (default: every epoch)")
    parser.add_argument("--remat", action="store_true",
                        help="recompute the encoder's transformer-layer activations in the backward pass: less "
                             "memory, about one more encoder forward pass per step (needs no dropout in the "
                             "transformer layers)")
    parser.add_argument("--seed", type=non_negative_int, default=12345,
                        help="random seed of the head's initialization, dropout and data order")
    parser.add_argument("--seeds", type=positive_int, default=1,
                        help="N runs with seeds SEED..SEED+N-1 in OUTPUT_DIR/seed-<seed>/, and "
                             "seeds_summary.json (mean, std, min, max of every dev metric)")
    parser.add_argument("--no-progress", action="store_true",
                        help="one log line per evaluation interval; bars are drawn only when stderr is a terminal")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard a previous run in OUTPUT_DIR and start again (else it is resumed)")


def labels_argument(value: str | None) -> tuple[str, ...] | None:
    """`--labels`: comma-separated labels, or a text file with one label per line."""
    from albert_tf.cli.shared_arguments import parse_labels

    if value is None:
        return None
    if value.endswith((".txt", ".labels")) or os.sep in value:
        try:
            with open(value, encoding="utf-8") as handle:
                labels = tuple(line.strip() for line in handle if line.strip())
        except FileNotFoundError:
            raise ValueError(f"--labels file not found: {value} (give a file with one label per line, or the "
                             "labels comma-separated)") from None
        if not labels:
            raise ValueError(f"--labels file {value} holds no labels; write one label per line.")
    else:
        labels = parse_labels(value)
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"--labels names {', '.join(repeated)} more than once; give each label once.")
    return labels


def print_scores(metrics: dict, role: str = "") -> None:
    """One line per evaluation split (a `--seeds` summary shows mean +- std)."""
    for split, scores in metrics.items():
        shown = ", ".join(
            f"{name} {value['mean']:.4f} +- {value['std']:.4f}" if isinstance(value, dict) else f"{name} {value:.4f}"
            for name, value in scores.items() if isinstance(value, (float, dict)))
        print(f"{role}{split}: {shown}")


def run(args: argparse.Namespace) -> int:
    from albert_tf.finetuning import FinetuneSettings, run_finetuning
    from albert_tf.finetuning.runner import MODEL_PRESET, RESULTS_FILE
    from albert_tf.training.trainer import SEEDS_SUMMARY_FILE
    from albert_tf.cli.shared_arguments import load_config_argument
    from albert_tf.training.strategy import split_cpu

    split_cpu(args.cpu_devices)
    config = load_config_argument(args.config) if args.config is not None else None
    labels = labels_argument(args.labels)
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
        remat=args.remat, pad_to_max_length=args.pad_to_max_length,
        eval_every=args.eval_every, seeds=args.seeds, progress=not args.no_progress, overwrite=args.overwrite,
    )
    result = run_finetuning(settings)
    if result.already_finished:
        print(f"{result.output_dir} holds this run, already finished: nothing to do (--overwrite starts again)")
    print_scores(result.metrics)
    if settings.seeds > 1:
        print(f"summary of {settings.seeds} seeds written to {result.output_dir}/{SEEDS_SUMMARY_FILE}")
        return 0
    best = result.results["best"]
    print(f"results written to {result.output_dir}/{RESULTS_FILE}")
    print(f"model preset (best {best['metric']} {best['value']:.4f}, step {best['step']}) written to "
          f"{result.output_dir}/{MODEL_PRESET} (try: albert predict {result.output_dir}/{MODEL_PRESET} "
          "\"some text\")")
    return 0
