"""`albert export`: SavedModel for TF Serving and the TFLite edge bundle, from a preset."""

from __future__ import annotations

import argparse

QUANTIZE_CHOICES = ("none", "fp16", "dynamic", "int8")


def add_parser(subparsers) -> None:
    from albert_tf.cli.shared_arguments import HelpFormatter, non_negative_int, positive_int, whole_number_at_least

    parser = subparsers.add_parser(
        "export",
        help="export a preset (or .keras model): TF Serving SavedModel and TFLite edge bundle",
        description=(
            "Exports a classifier, span QA model or backbone: a preset folder (from albert finetune, pretrain or "
            "convert; it carries its tokenizer, sequence length and label names) or a .keras file (then "
            "--spm-model is needed). Writes OUTPUT_DIR/saved_model/VERSION/ (signatures serving_default: token "
            "ids; serve_text, serve_text_pair: raw strings tokenized in the graph) and OUTPUT_DIR/bundle/ "
            "(.tflite models with builtin ops only and MediaPipe TextClassifier metadata for classifiers, "
            "spm.model, spm_vocab.tsv, labels.txt, manifest.json, golden.json). Both are built and checked "
            "aside, then renamed into place; rerunning on an unchanged model adds no SavedModel version."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("model_path", nargs="?", metavar="MODEL", default=None,
                        help="the preset folder (or .keras file) to export")
    parser.add_argument("--model", dest="model_option", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output-dir", required=True,
                        help="folder for saved_model/VERSION/ and bundle/ (created if missing)")
    parser.add_argument("--spm-model", default=None,
                        help="SentencePiece .model; only for a .keras model without a tokenizer")
    parser.add_argument("--task", choices=("classifier", "span_qa", "backbone"), default=None,
                        help="the expected model kind (default: detected from the model)")
    parser.add_argument("--seq-length", type=whole_number_at_least(3), default=None,
                        help="fixed on-device / text-signature length (default: the preset's, else 128)")
    parser.add_argument("--quantize", nargs="+", choices=QUANTIZE_CHOICES, default=["none", "dynamic"],
                        help="TFLite variants to write")
    parser.add_argument("--representative-data", default=None,
                        help="text file or GLUE .tsv of real sentences for int8 calibration")
    parser.add_argument("--representative-samples", type=positive_int, default=200,
                        help="sentences of --representative-data used for int8 calibration")
    parser.add_argument("--labels", default=None,
                        help="comma-separated class names (default: the model's own label names)")
    parser.add_argument("--labels-file", default=None, help="one class name per line (default: the model's own)")
    parser.add_argument("--text-model", action="store_true",
                        help="also write model_text.tflite (text in; runs in ai_edge_litert with tensorflow-text's op registrar)")
    parser.add_argument("--version", type=non_negative_int, default=None,
                        help="SavedModel version, an integer >= 0 as TF Serving reads it (default: next free)")
    parser.add_argument("--no-saved-model", action="store_true", help="write only the edge bundle")
    parser.add_argument("--no-bundle", action="store_true", help="write only the SavedModel")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import pathlib

    from albert_tf.export.publishing import ExportRequest, export_model
    from albert_tf.export.representative_data import read_texts

    model_path = args.model_path or args.model_option
    if model_path is None:
        raise ValueError("Name the model to export: albert export PRESET --output-dir DIR.")
    if args.model_path and args.model_option:
        raise ValueError("Give the model once: as MODEL or as --model, not both.")
    labels = None
    if args.labels and args.labels_file:
        raise ValueError("Pass --labels or --labels-file, not both.")
    if args.labels:
        labels = [label.strip() for label in args.labels.split(",")]
    elif args.labels_file:
        labels = _read_labels_file(pathlib.Path(args.labels_file))
    texts = None
    if args.representative_data:
        texts = read_texts(args.representative_data, args.representative_samples)
    elif "int8" in args.quantize:
        raise ValueError("--quantize int8 needs --representative-data (a text file or a GLUE .tsv of real "
                         "sentences, e.g. SST-2 dev.tsv).")
    request = ExportRequest(
        model_path=model_path, output_dir=args.output_dir, spm_model=args.spm_model, kind=args.task,
        seq_length=args.seq_length, quantizations=tuple(args.quantize), labels=labels, representative_texts=texts,
        text_model=args.text_model, version=args.version, saved_model=not args.no_saved_model,
        bundle=not args.no_bundle, overwrite=args.overwrite,
    )
    result = export_model(request)
    if result.saved_model is not None:
        state = "unchanged, already served as" if result.saved_model_reused else "written to"
        print(f"SavedModel {state} {result.saved_model}")
    if result.bundle is not None:
        for entry in result.bundle.manifest["models"]:
            diff = entry.get("max_abs_diff_vs_keras")
            detail = f"max |diff| vs Keras {diff:.2e}" if diff is not None else "needs " + ", ".join(
                entry.get("requires", []))
            size = result.bundle.manifest["files"][entry["file"]]["bytes"]
            print(f"{entry['file']}: {size / 1e6:.2f} MB, {detail}")
        print(f"bundle written to {result.bundle.directory}")
    return 0


def _read_labels_file(path) -> list[str]:
    """`--labels-file`: one class name per line, UTF-8."""
    if path.is_dir():
        raise ValueError(f"--labels-file {path} is a folder; give a text file with one class name per line.")
    if not path.is_file():
        raise ValueError(f"--labels-file {path} not found (one class name per line).")
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"--labels-file {path} is not valid UTF-8 ({error.reason} at byte {error.start}); "
                         "convert it to UTF-8.") from None
    return [line.strip() for line in text.splitlines() if line.strip()]

