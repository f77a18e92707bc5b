"""`albert convert`: TF1 / Model Garden / Hugging Face / KerasHub models and albert_tf presets in; an albert_tf
preset, a Hugging Face folder or a KerasHub preset out."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> None:
    from albert_tf.cli.shared_arguments import HelpFormatter

    parser = subparsers.add_parser(
        "convert",
        help="convert ALBERT models between albert_tf presets, TF1 / Model Garden checkpoints, Hugging Face and "
             "KerasHub",
        description=(
            "Reads an ALBERT model and writes it in another form. "
            "--from tf1: google-research/albert model.ckpt-* or TF-Hub TF1 module variables; "
            "--from tfm: TF Model Garden AlbertEncoder / BertPretrainerV2 tf.train.Checkpoint; "
            "--from hf: Hugging Face model directory (config.json + model.safetensors; an "
            "AlbertForSequenceClassification becomes a classifier with its id2label names); "
            "--from keras-hub: a KerasHub ALBERT preset folder (backbone or AlbertTextClassifier); "
            "--from preset: an albert_tf preset folder; --from keras: an albert_tf .keras file (or a preset). "
            "--to preset (default) writes an albert_tf preset folder (config, weights, tokenizer, labels); "
            "--to hf a folder that transformers' AutoModel / AutoTokenizer / pipeline load; "
            "--to keras-hub a folder that keras_hub's AlbertBackbone / AlbertTextClassifier.from_preset load. "
            "Every variable name and shape is checked against the config."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--from", dest="source_format", required=True,
                        choices=("tf1", "tfm", "hf", "keras-hub", "preset", "keras"), help="input format")
    parser.add_argument("--checkpoint", required=True,
                        help="the input: checkpoint prefix, file or directory; a Hugging Face, KerasHub or albert_tf "
                             "preset folder; or a .keras file")
    parser.add_argument("--config", default=None,
                        help="tf1/tfm/hf: config JSON (google-research, Hugging Face or albert_tf dialect) or preset "
                             "name; default: config.json of an hf directory, or albert_config.json next to a TF "
                             "checkpoint")
    parser.add_argument("--output", required=True, help="the folder to write")
    parser.add_argument("--to", choices=("preset", "hf", "keras-hub", "keras"), default="preset",
                        help="preset: albert_tf preset folder (keras: the same); hf: config.json, model.safetensors "
                             "and tokenizer files for transformers; keras-hub: a KerasHub preset")
    parser.add_argument("--spm-model", default=None,
                        help="the SentencePiece model; default: the one the input carries (preset, KerasHub "
                             "vocabulary.spm, spiece.model or 30k-clean.model next to a checkpoint)")
    parser.add_argument("--labels", default=None,
                        help="classifier: comma-separated label names in class order (e.g. negative,positive)")
    parser.add_argument("--model", choices=("auto", "backbone", "pretrainer"), default="auto",
                        help="auto: a pretrainer when the MLM and SOP heads are in the checkpoint, a classifier when "
                             "the input is one")
    parser.add_argument("--backbone-only", action="store_true", help="same as --model backbone")
    parser.add_argument("--new-sop-head", action="store_true",
                        help="checkpoint with an MLM head but no SOP head: write a pretrainer with a new SOP head")
    parser.add_argument("--overwrite", action="store_true", help="--to preset: replace an existing preset folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    from albert_tf.cli.shared_arguments import parse_labels
    from albert_tf.convert import UnusedVariablesWarning, convert_checkpoint

    model = "backbone" if args.backbone_only else args.model
    labels = parse_labels(args.labels)
    try:
        with warnings.catch_warnings():
            # Warnings as one plain line each, not a Python warning with a source line.
            warnings.simplefilter("always", UnusedVariablesWarning)
            warnings.showwarning = _show_warning
            result = convert_checkpoint(
                args.source_format, args.checkpoint, args.output, args.config,
                to=args.to, model=model, new_sop_head=args.new_sop_head, spm_model=args.spm_model,
                labels=list(labels) if labels else None, overwrite=args.overwrite,
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
    names = {"pretrainer": "AlbertPretrainer", "backbone": "AlbertBackbone"}
    name = names.get(result.kind, type(result.model).__name__)
    print(f"converted {result.source} -> {name}{details}")
    for path in result.outputs:
        print(f"wrote {path}")
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"albert convert: warning: {message}", file=sys.stderr)
