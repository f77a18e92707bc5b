"""`albert distill`: train a small ALBERT classifier from a fine-tuned teacher (knowledge distillation)."""

from __future__ import annotations

import argparse

from albert_tf.cli.finetune import TASKS, add_run_arguments


def add_parser(subparsers) -> None:
    from albert_tf.cli.shared_arguments import (HelpFormatter, add_distribution_arguments,
                                                add_table_columns_arguments, dropout_rate, fraction,
                                                non_negative_float, non_negative_int, positive_float,
                                                positive_int)

    parser = subparsers.add_parser(
        "distill",
        help="distil a fine-tuned classifier into a smaller student (GLUE, csv/tsv classification/regression)",
        description=(
            "Trains a student AlbertClassifier (--student-config from scratch, or --student-init backbone) "
            "from a fine-tuned teacher (--teacher OUTPUT_DIR/model of `albert finetune`: its tokenizer and label "
            "names are used; an older .keras teacher needs --spm-model) on the teacher's task: "
            "loss = alpha * hard-label CE + (1 - alpha) * T^2 * soft-target CE (MSE for regression), plus the "
            "optional TinyBERT hidden-state and attention-map losses. Data layouts and metrics are those of "
            "`albert finetune`; only classification/regression tasks are supported (not SQuAD or RACE). "
            "The student is evaluated on the dev set after every epoch (or --eval-every N steps). Writes "
            "OUTPUT_DIR/model/ (the student preset of the best dev checkpoint, with the teacher's tokenizer and "
            "label names: `albert predict` and `albert export` take it), last/, eval_results.json (student and "
            "teacher dev metrics, which step each preset came from, both models' sizes), metrics.csv, "
            "curves.png and TensorBoard logs/; with --cache-teacher-logits also teacher_logits.npy (+ .json "
            "fingerprint), reused by a later run on the same data and teacher. Rerun the same command after a "
            "kill to resume; a finished run is not redone."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--task", required=True, choices=TASKS,
                        help="classification/regression tasks only (squad1, squad2 and race are refused)")
    parser.add_argument("--data-dir", required=True, help="the task's data folder")
    parser.add_argument("--output-dir", required=True,
                        help="run folder (model/, last/, eval_results.json, logs); rerunning into it resumes")
    parser.add_argument("--spm-model", default=None,
                        help="SentencePiece model of the teacher's vocabulary; only for a .keras --teacher")
    parser.add_argument("--teacher", required=True,
                        help="the fine-tuned teacher: the OUTPUT_DIR/model preset of albert finetune (or a .keras "
                             "AlbertClassifier with --spm-model)")
    student = parser.add_mutually_exclusive_group(required=True)
    student.add_argument("--student-config", default=None,
                         help="preset name (tiny, base, ...) or config JSON: the student, from scratch")
    student.add_argument("--student-init", default=None,
                         help="a preset or .keras backbone (or a model with a backbone) to start the student from")
    parser.add_argument("--temperature", type=positive_float, default=2.0, help="softmax temperature of the soft targets")
    parser.add_argument("--alpha", type=fraction, default=0.5,
                        help="weight of the hard-label loss; 1 - alpha weighs the soft targets")
    parser.add_argument("--hidden-state-weight", type=non_negative_float, default=0.0,
                        help="weight of the TinyBERT hidden-state MSE (0 = off; runs the teacher every step)")
    parser.add_argument("--attention-weight", type=non_negative_float, default=0.0,
                        help="weight of the TinyBERT attention-map loss (0 = off; runs the teacher every step)")
    parser.add_argument("--attention-loss", choices=("mse", "kl"), default="mse",
                        help="how --attention-weight compares attention maps: mean squared error or KL divergence")
    parser.add_argument("--cache-teacher-logits", action="store_true",
                        help="run the teacher once over the training set; keep its logits in "
                             "OUTPUT_DIR/teacher_logits.npy and reuse them when data and teacher are unchanged")
    parser.add_argument("--transfer-examples", type=non_negative_int, default=0,
                        help="N more train rows after the first --max-train-examples, used without their labels "
                             "(the teacher's soft targets, and its prediction as the hard label)")
    parser.add_argument("--epochs", type=positive_int, default=3, help="passes over the training set")
    parser.add_argument("--learning-rate", type=positive_float, default=5e-5, help="peak AdamW learning rate")
    parser.add_argument("--warmup-proportion", type=fraction, default=0.1,
                        help="fraction of the training steps with a linear learning-rate warm-up")
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.01,
                        help="AdamW weight decay rate (>= 0; not applied to LayerNorm and bias weights)")
    parser.add_argument("--dropout", type=dropout_rate, default=0.1, help="the student's dropout before its head")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="global training batch")
    parser.add_argument("--eval-batch-size", type=positive_int, default=None, help="default: --batch-size")
    parser.add_argument("--max-seq-length", type=positive_int, default=None, help="default: 128")
    parser.add_argument("--max-train-examples", type=positive_int, default=None,
                        help="use the first N labelled train rows (small runs)")
    parser.add_argument("--max-eval-examples", type=positive_int, default=None, help="evaluate the first N per split")
    add_table_columns_arguments(parser)
    add_distribution_arguments(parser, dtype_help="the student's dtype policy")
    add_run_arguments(parser)
    parser.set_defaults(run=run, trains=True)


def run(args: argparse.Namespace) -> int:
    from albert_tf.cli.finetune import labels_argument, print_scores
    from albert_tf.distillation.runner import DistillSettings, run_distillation
    from albert_tf.finetuning.runner import MODEL_PRESET, RESULTS_FILE
    from albert_tf.training.trainer import SEEDS_SUMMARY_FILE
    from albert_tf.cli.shared_arguments import load_config_argument
    from albert_tf.training.strategy import split_cpu

    split_cpu(args.cpu_devices)
    config = (load_config_argument(args.student_config, "--student-config") if args.student_config is not None
              else None)
    labels = labels_argument(args.labels)
    settings = DistillSettings(
        task=args.task, data_dir=args.data_dir, output_dir=args.output_dir, spm_model=args.spm_model,
        teacher=args.teacher, student_config=config, student_init=args.student_init,
        temperature=args.temperature, alpha=args.alpha, hidden_state_weight=args.hidden_state_weight,
        attention_weight=args.attention_weight, attention_loss=args.attention_loss,
        cache_teacher_logits=args.cache_teacher_logits, transfer_examples=args.transfer_examples,
        epochs=args.epochs, learning_rate=args.learning_rate, warmup_proportion=args.warmup_proportion,
        batch_size=args.batch_size, eval_batch_size=args.eval_batch_size, max_seq_length=args.max_seq_length,
        max_train_examples=args.max_train_examples, max_eval_examples=args.max_eval_examples,
        weight_decay=args.weight_decay, dropout=args.dropout, text_column=args.text_column,
        text_pair_column=args.text_pair_column, label_column=args.label_column, labels=labels,
        strategy=args.strategy, tpu=args.tpu, dtype=args.dtype, jit_compile=args.jit_compile, seed=args.seed,
        remat=args.remat,
        eval_every=args.eval_every, seeds=args.seeds, progress=not args.no_progress, overwrite=args.overwrite,
    )
    result = run_distillation(settings)
    if result.already_finished:
        print(f"{result.output_dir} holds this run, already finished: nothing to do (--overwrite starts again)")
    print_scores(result.metrics, "student ")
    if settings.seeds > 1:
        print(f"summary of {settings.seeds} seeds written to {result.output_dir}/{SEEDS_SUMMARY_FILE}")
        return 0
    print_scores(result.teacher_metrics, "teacher ")
    sizes = result.results.get("models", {})
    if "student" in sizes:
        print(f"parameters: teacher {sizes['teacher']['parameters']:,}, student {sizes['student']['parameters']:,} "
              f"({sizes['compression']['parameters']:.1f}x smaller)")
    best = result.results["best"]
    print(f"results written to {result.output_dir}/{RESULTS_FILE}")
    print(f"student preset (best {best['metric']} {best['value']:.4f}, step {best['step']}) written to "
          f"{result.output_dir}/{MODEL_PRESET}")
    return 0
