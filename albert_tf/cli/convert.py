"""`albert convert`: TF1, TF Model Garden and Hugging Face checkpoints to `.keras`, and `.keras` to Hugging Face."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert TF1 / Model Garden / Hugging Face ALBERT checkpoints to .keras (or to Hugging Face)",
        description=(
            "Reads a checkpoint of another ALBERT implementation and writes an albert_tf model: an "
            "AlbertPretrainer when the checkpoint has the MLM and SOP heads, else an AlbertBackbone. "
            "--from tf1: google-research/albert model.ckpt-* or TF-Hub TF1 module variables; "
            "--from tfm: TF Model Garden AlbertEncoder / BertPretrainerV2 tf.train.Checkpoint; "
            "--from hf: Hugging Face model directory (config.json + model.safetensors); "
            "--from keras: an albert_tf .keras model (to export it with --to hf). "
            "Every variable name and shape is checked against the config."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--from", dest="source_format", required=True, choices=("tf1", "tfm", "hf", "keras"),
                        help="checkpoint format")
    parser.add_argument("--checkpoint", required=True,
                        help="checkpoint prefix, file or directory (hf: the model directory)")
    parser.add_argument("--config", default=None,
                        help="config JSON (google-research, Hugging Face or albert_tf dialect) or preset name; "
                             "default: config.json of an hf directory, or albert_config.json next to a TF checkpoint")
    parser.add_argument("--output", required=True, help="a .keras file (--to keras) or a directory (--to hf)")
    parser.add_argument("--to", choices=("keras", "hf"), default="keras",
                        help="hf writes config.json + model.safetensors for transformers' AlbertForPreTraining")
    parser.add_argument("--model", choices=("auto", "backbone", "pretrainer"), default="auto",
                        help="auto: a pretrainer when the MLM and SOP heads are in the checkpoint")
    parser.add_argument("--backbone-only", action="store_true", help="same as --model backbone")
    parser.add_argument("--new-sop-head", action="store_true",
                        help="checkpoint with an MLM head but no SOP head: write a pretrainer with a new SOP head")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    from albert_tf.convert import UnusedVariablesWarning, convert_checkpoint

    model = "backbone" if args.backbone_only else args.model
    try:
        with warnings.catch_warnings():
            # Report unused variables as one plain line, not a Python warning with a source line.
            warnings.simplefilter("always", UnusedVariablesWarning)
            warnings.showwarning = _show_warning
            result = convert_checkpoint(
                args.source_format, args.checkpoint, args.output, args.config,
                to=args.to, model=model, new_sop_head=args.new_sop_head,
            )
    except FileNotFoundError as error:
        print(f"albert convert: error: {error}", file=sys.stderr)
        return 2
    report = result.report
    details = ""
    if report is not None:
        details = f": {len(report.loaded)} variables"
        if report.skipped:
            details += f", {len(report.skipped)} optimizer/bookkeeping variables skipped"
        if report.dropped:
            details += f", {len(report.dropped)} head variables left out"
    name = "AlbertPretrainer" if result.kind == "pretrainer" else "AlbertBackbone"
    print(f"converted {result.source} -> {name}{details}")
    for path in result.outputs:
        print(f"wrote {path}")
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"albert convert: warning: {message}", file=sys.stderr)
