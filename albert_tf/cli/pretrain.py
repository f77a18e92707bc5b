"""`albert pretrain`: MLM + SOP pretraining under tf.distribute, resumable."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    from albert_tf.cli.shared_arguments import (HelpFormatter, add_distribution_arguments, non_negative_float,
                                               non_negative_int, positive_float, positive_int)

    parser = subparsers.add_parser(
        "pretrain",
        help="pretrain ALBERT (MLM + SOP) on records from `albert create-data`",
        description=(
            "Pretrains an ALBERT backbone with the masked-LM and sentence-order losses and LAMB, under any "
            "tf.distribute strategy. Checkpoints every --steps-per-checkpoint steps; rerunning the same "
            "command after a crash or preemption resumes from the last checkpoint and stops at --train-steps. "
            "Writes OUTPUT_DIR/model/ (a preset: backbone, MLM and sentence heads, tokenizer; what albert finetune --init takes), backbone.keras, pretrainer.keras, metrics.csv, curves.png, TensorBoard logs and checkpoints."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--config", required=True, help="preset name (tiny, base, ...) or config JSON path")
    parser.add_argument("--records", nargs="+", required=True, help="record globs or directories")
    parser.add_argument("--output-dir", required=True,
                        help="run folder (model/, checkpoints, logs); rerunning into it resumes")
    parser.add_argument("--eval-records", nargs="+", default=(),
                        help="held-out record globs or directories, evaluated at every checkpoint")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="global batch size")
    parser.add_argument("--train-steps", type=positive_int, default=1000,
                        help="total optimizer steps (a multiple of --steps-per-checkpoint)")
    parser.add_argument("--steps-per-checkpoint", type=positive_int, default=100,
                        help="steps between checkpoints (how much a killed run can lose)")
    parser.add_argument("--keep-checkpoints", type=positive_int, default=3, help="newest checkpoints kept on disk")
    parser.add_argument("--learning-rate", type=positive_float, default=0.00176, help="peak learning rate")
    parser.add_argument("--warmup-steps", type=non_negative_int, default=None,
                        help="linear warm-up steps, fewer than --train-steps (default: 2.5%% of --train-steps)")
    parser.add_argument("--optimizer", choices=("lamb", "adamw"), default="lamb",
                        help="lamb: ALBERT's large-batch optimizer; adamw: Adam with decoupled weight decay")
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.01,
                        help="weight decay rate (>= 0; not applied to LayerNorm and bias weights)")
    add_distribution_arguments(parser, default_dtype="auto")
    parser.add_argument("--remat", action="store_true",
                        help="recompute the shared layer's activations in the backward pass: less memory, about "
                             "one more forward pass per step (needs no dropout in the transformer layers)")
    parser.add_argument("--steps-per-execution", type=positive_int, default=1,
                        help="train steps run per call into the compiled graph (fewer Python round trips)")
    parser.add_argument("--gradient-accumulation-steps", type=positive_int, default=1,
                        help="micro-batches whose gradients are summed per optimizer step (--batch-size is split "
                             "into them)")
    parser.add_argument("--seed", type=non_negative_int, default=12345, help="random seed of initialization, dropout and masking")
    parser.add_argument("--init-backbone", default=None,
                        help="a .keras backbone file to start from, such as backbone.keras of an earlier albert "
                             "pretrain run (not a preset folder)")
    parser.add_argument("--dynamic-masking", action="store_true", help="new masks each time an example is read")
    parser.add_argument("--sentence-loss-weight", type=non_negative_float, default=1.0,
                        help="weight of the sentence-task loss (SOP or NSP, as the records hold); "
                             "0 trains the masked LM alone")
    parser.add_argument("--no-progress", action="store_true",
                        help="one log line per checkpoint interval; bars are drawn only when stderr is a terminal")
    parser.set_defaults(run=run, trains=True)


def check_arguments(args: argparse.Namespace) -> None:
    """Settings refused before any work, named as the command spells them."""
    import pathlib

    if args.warmup_steps is not None and args.warmup_steps >= args.train_steps:
        raise ValueError(f"--warmup-steps ({args.warmup_steps}) must be smaller than --train-steps "
                         f"({args.train_steps}); lower --warmup-steps or raise --train-steps.")
    if args.init_backbone and pathlib.Path(args.init_backbone).is_dir():
        folder = pathlib.Path(args.init_backbone)
        candidate = folder.parent / "backbone.keras" if folder.name == "model" else folder / "backbone.keras"
        hint = f" such as {candidate}" if candidate.is_file() else " (albert pretrain writes OUTPUT_DIR/backbone.keras)"
        raise ValueError(f"--init-backbone {folder} is a directory, not a file; it takes a .keras backbone "
                         f"file{hint}, not a preset folder.")


def run(args: argparse.Namespace) -> int:
    from albert_tf.cli.shared_arguments import load_config_argument
    from albert_tf.training.pretraining import PretrainingSettings, run_pretraining
    from albert_tf.training.strategy import split_cpu

    check_arguments(args)
    split_cpu(args.cpu_devices)
    config = load_config_argument(args.config)
    settings = PretrainingSettings(
        config=config, records=tuple(args.records), output_dir=args.output_dir, batch_size=args.batch_size,
        train_steps=args.train_steps, steps_per_checkpoint=args.steps_per_checkpoint,
        keep_checkpoints=args.keep_checkpoints, learning_rate=args.learning_rate, warmup_steps=args.warmup_steps,
        optimizer=args.optimizer, weight_decay=args.weight_decay, strategy=args.strategy, tpu=args.tpu,
        dtype=args.dtype, jit_compile=args.jit_compile, remat=args.remat, steps_per_execution=args.steps_per_execution,
        gradient_accumulation_steps=args.gradient_accumulation_steps, seed=args.seed,
        init_backbone=args.init_backbone, eval_records=tuple(args.eval_records), dynamic_masking=args.dynamic_masking,
        sentence_loss_weight=args.sentence_loss_weight, progress=not args.no_progress,
    )
    result = run_pretraining(settings)
    resumed = f" (resumed at step {result.resumed_from_step})" if result.resumed_from_step else ""
    last = {name: values[-1] for name, values in result.history.items() if values}
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in sorted(last.items()))
    print(f"finished at step {result.final_step}{resumed} in {settings.dtype}: {metrics}")
    if result.backbone_path:
        print(f"backbone written to {result.backbone_path}")
    return 0
