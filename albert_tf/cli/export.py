"""`albert export`: SavedModel for TF Serving and the TFLite edge bundle."""

from __future__ import annotations

import argparse

QUANTIZE_CHOICES = ("none", "fp16", "dynamic", "int8")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a .keras model: TF Serving SavedModel and TFLite edge bundle",
        description=(
            "Exports a saved AlbertClassifier, AlbertSpanQA or AlbertBackbone (.keras). Writes "
            "OUTPUT_DIR/saved_model/VERSION/ (signatures serving_default: token ids; serve_text, "
            "serve_text_pair: raw strings tokenized in the graph) and OUTPUT_DIR/bundle/ (.tflite models with "
            "builtin ops only and MediaPipe TextClassifier metadata for classifiers, spm.model, spm_vocab.tsv, "
            "labels.txt, manifest.json, golden.json). Everything is written to a temporary directory first "
            "and renamed into place."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="the .keras model file")
    parser.add_argument("--spm-model", required=True, help="the SentencePiece .model the model was trained with")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--task", choices=("classifier", "span_qa", "backbone"), default=None,
                        help="the expected model kind (default: detected from the model)")
    parser.add_argument("--seq-length", type=int, default=128, help="fixed on-device / text-signature length")
    parser.add_argument("--quantize", nargs="+", choices=QUANTIZE_CHOICES, default=["none", "dynamic"],
                        help="TFLite variants to write")
    parser.add_argument("--representative-data", default=None,
                        help="text file or GLUE .tsv of real sentences for int8 calibration")
    parser.add_argument("--representative-samples", type=int, default=200)
    parser.add_argument("--labels", default=None, help="comma-separated class names (default 0..N-1)")
    parser.add_argument("--labels-file", default=None, help="one class name per line")
    parser.add_argument("--text-model", action="store_true",
                        help="also write model_text.tflite (text in; runs in ai_edge_litert with tensorflow-text's op registrar)")
    parser.add_argument("--version", type=int, default=None, help="SavedModel version (default: next free)")
    parser.add_argument("--no-saved-model", action="store_true", help="write only the edge bundle")
    parser.add_argument("--no-bundle", action="store_true", help="write only the SavedModel")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os
    import pathlib

    import keras

    import albert_tf  # noqa: F401  (registers the layers and models for loading)
    from albert_tf.export import export_bundle, export_saved_model
    from albert_tf.export.bundle import check_spm_model
    from albert_tf.export.representative_data import read_texts

    if not os.path.isfile(args.model):
        raise ValueError(f"Model file {args.model} not found: pass --model path/to/model.keras.")
    check_spm_model(args.spm_model)
    labels = None
    if args.labels and args.labels_file:
        raise ValueError("Pass --labels or --labels-file, not both.")
    if args.labels:
        labels = [label.strip() for label in args.labels.split(",")]
    elif args.labels_file:
        labels = [line.strip() for line in pathlib.Path(args.labels_file).read_text("utf-8").splitlines()
                  if line.strip()]
    texts = None
    if args.representative_data:
        texts = read_texts(args.representative_data, args.representative_samples)
    elif "int8" in args.quantize:
        raise ValueError("--quantize int8 needs --representative-data (a text file or a GLUE .tsv of real "
                         "sentences, e.g. SST-2 dev.tsv).")
    if not pathlib.Path(args.model).is_file():
        raise ValueError(f"Model file not found: {args.model} (a .keras file from albert finetune, pretrain or convert).")
    # compile=False: the optimizer a fine-tuned model was saved with plays no part in serving.
    model = keras.saving.load_model(args.model, compile=False)
    output = pathlib.Path(args.output_dir)
    if not args.no_saved_model:
        path = export_saved_model(model, output / "saved_model", args.spm_model, args.seq_length,
                                  args.version, args.task)
        print(f"SavedModel written to {path}")
    if not args.no_bundle:
        result = export_bundle(model, args.spm_model, output / "bundle", args.seq_length, args.quantize, labels,
                               texts, args.text_model, args.task, overwrite=args.overwrite)
        for entry in result.manifest["models"]:
            diff = entry.get("max_abs_diff_vs_keras")
            detail = f"max |diff| vs Keras {diff:.2e}" if diff is not None else "needs " + ", ".join(
                entry.get("requires", []))
            size = result.manifest["files"][entry["file"]]["bytes"]
            print(f"{entry['file']}: {size / 1e6:.2f} MB, {detail}")
        print(f"bundle written to {result.directory}")
    return 0
