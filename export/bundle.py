"""The edge bundle: every file an app needs, described by `manifest.json`, written atomically.

Directory contents:

* `model_fp32.tflite`, `model_fp16.tflite`, `model_dynamic_int8.tflite`,
  `model_int8.tflite` (those asked for): on-device models, token ids in,
  builtin ops only; classifiers carry MediaPipe TextClassifier metadata.
  Fixed `[1, L]` inputs: MediaPipe's TextClassifier needs them.
* `model_fp32_adaptive.tflite`, `model_fp16_adaptive.tflite`,
  `model_dynamic_int8_adaptive.tflite` (for those of `none`, `fp16`, `dynamic`
  asked for, unless `length_adaptive=False`): the same models with `[1, -1]`
  inputs, fed the real token count n (`[CLS] .. [SEP]`, no padding; LiteRT
  resizes the inputs). Outputs equal the fixed model's on the padded input;
  compute scales with n (ALBERT-base on SST-2 sentences: 0.27-0.35x the fixed-128 latency,
  `benchmarks/results/litert_latency.md`). No metadata: apps run them through
  LiteRT with their own tokenizer. The file name says which model is which
  (`ADAPTIVE_SUFFIX`); the input's shape signature `[1, -1]` confirms it.
* `model_text.tflite` (optional): text in, builtins + tf-text's tokenizer op (Linux/Python).
* `spm.model`: the SentencePiece model.
* `spm_vocab.tsv`: `piece<TAB>score<TAB>type` per line, in id order (line k is
  id k); type is NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED or BYTE. No header.
* `labels.txt` (classifiers): one label per line, in output order.
* `golden.json`: see `albert_tf.export.golden`.
* `manifest.json`: see `build_manifest`.

The bundle is assembled in a temporary sibling directory and renamed into
place, so a reader sees either the old bundle or the complete new one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import os
import pathlib
import platform
import shutil
import tempfile
from typing import Mapping, Sequence

import keras
import numpy as np

from albert_tf.tokenizer import AlbertTokenizer
from albert_tf.io_utils import publish_directory
from albert_tf.export.golden import GOLDEN_TEXTS, build_golden
from albert_tf.export.model_source import labels_of, sequence_length_of, spm_model_of, tokenizer_options_of
from albert_tf.export.heads import ModelKind, backbone_of, check_kind, check_seq_length, num_labels, serving_outputs
from albert_tf.export.manifest_schema import validate_manifest
from albert_tf.export.tflite import DEVICE_OUTPUTS, LENGTH_ADAPTIVE_QUANTIZATIONS, QUANTIZATIONS, TENSOR_NAMES

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = "albert_tf.bundle/1"
MODEL_FILES = {
    "none": "model_fp32.tflite",
    "fp16": "model_fp16.tflite",
    "dynamic": "model_dynamic_int8.tflite",
    "int8": "model_int8.tflite",
}
# Length-adaptive ([1, -1]) variants: the fixed file's name with this before ".tflite".
ADAPTIVE_SUFFIX = "_adaptive"
ADAPTIVE_MODEL_FILES = {q: MODEL_FILES[q].replace(".tflite", f"{ADAPTIVE_SUFFIX}.tflite")
                        for q in LENGTH_ADAPTIVE_QUANTIZATIONS}
TEXT_MODEL_FILE = "model_text.tflite"
# Allowed max |tflite - keras| per variant in golden.json: at least this, or
# twice what the export measured (arm kernels round differently from x86).
_TOLERANCE_FLOOR = {"none": 1e-4, "fp16": 1e-2, "dynamic": 5e-2, "int8": 5e-2}
_INPUT_ROLES = {
    "input_word_ids": ("ids", "SentencePiece piece ids: [CLS] text [SEP], padded with pad_id"),
    "input_mask": ("mask", "1 on real tokens (incl. [CLS] and [SEP]), 0 on padding"),
    "input_type_ids": ("segment_ids", "segment ids: 0 for the first text, 1 for the second; 0 on padding"),
}
_PIECE_TYPES = {1: "NORMAL", 2: "UNKNOWN", 3: "CONTROL", 4: "USER_DEFINED", 5: "UNUSED", 6: "BYTE"}
_TOOLS = ("albert-tf", "tensorflow", "keras", "tensorflow-text", "ai-edge-litert", "mediapipe",
          "sentencepiece", "flatbuffers", "numpy")


def _mediapipe_tokenizes_like(tokenizer: AlbertTokenizer) -> bool:
    """Whether MediaPipe's TextClassifier would feed the model its own kind of ids (True), or the classifier's
    files must go without MediaPipe metadata (False, with a warning).

    MediaPipe lowercases every text before SentencePiece (measured: "HELLO World" scores as "hello world").
    For an uncased model that is ALBERT's own first step; a cased model would get other ids for every
    capital letter, without an error, so its files carry no metadata: TextClassifier refuses them, and
    LiteRT with the manifest's tokenizer settings (what the Android demo does) runs them as they are."""
    if tokenizer.lower_case:
        return True
    logger.warning("The classifier keeps case (lower_case false) but MediaPipe's TextClassifier lowercases every "
                   "text: its .tflite files get no MediaPipe metadata (run them with LiteRT and the manifest's "
                   "tokenizer, as the Android demo does).")
    return False


def spm_vocab_tsv(spm_model: bytes) -> str:
    """`piece<TAB>score<TAB>type` lines in id order (what the Kotlin tokenizer reads)."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(spm_model)
    lines = []
    for piece in proto.pieces:
        if "\t" in piece.piece or "\n" in piece.piece:
            raise ValueError(f"SentencePiece piece {piece.piece!r} contains a tab or newline; cannot write a tsv.")
        lines.append(f"{piece.piece}\t{piece.score!r}\t{_PIECE_TYPES.get(piece.type, 'NORMAL')}\n")
    return "".join(lines)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _TOOLS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclasses.dataclass
class BundleResult:
    """What `export_bundle` wrote: the directory and, per model file, its measured agreement with Keras."""

    directory: pathlib.Path
    manifest: dict
    golden: dict


def export_bundle(
    model: keras.Model,
    spm_model: str | os.PathLike | bytes | None,
    output_dir: str | os.PathLike,
    seq_length: int | None = None,
    quantizations: Sequence[str] = ("none", "dynamic"),
    labels: Sequence[str] | None = None,
    representative_texts: Sequence[str] | None = None,
    text_model: bool = False,
    kind: ModelKind | None = None,
    golden_texts: Sequence[str] = GOLDEN_TEXTS,
    overwrite: bool = False,
    length_adaptive: bool = True,
    tokenizer_options: Mapping[str, bool | None] | None = None,
) -> BundleResult:
    """Converts `model` and writes the edge bundle directory.

    Args:
        model: an AlbertClassifier, AlbertSpanQA or AlbertBackbone.
        spm_model: the SentencePiece model (path or bytes); None: the model's own
            (a model loaded from a preset carries it).
        output_dir: the bundle directory (created; replaced only with `overwrite`).
        seq_length: the fixed on-device sequence length (None: the model's preprocessor's, else 128).
        quantizations: variants to write, from `QUANTIZATIONS`.
        labels: class names (classifiers; default: the model's label names, else "0".."N-1").
        representative_texts: real sentences for int8 calibration.
        text_model: also write the text-in `model_text.tflite`.
        kind: the expected model kind (None: detect it).
        golden_texts: texts for golden.json.
        overwrite: replace an existing bundle directory.
        length_adaptive: also write the `[1, -1]` variant (`ADAPTIVE_MODEL_FILES`)
            of each `none` / `fp16` / `dynamic` model.
        tokenizer_options: `lower_case`, `strip_accents`, `split_digit_comma` (a missing or None one:
            the model's own tokenizer's, else True): the manifest's normalization, the golden and
            calibration inputs and the text model follow them.

    Raises:
        ValueError: bad kind, sequence length, labels, quantization or spm
            model, int8 without representative text, or an existing directory.
    """
    from albert_tf.export.metadata import add_classifier_metadata
    from albert_tf.export.representative_data import representative_dataset
    from albert_tf.export.tflite import convert_ids_model, convert_text_model, make_interpreter, non_builtin_ops, \
        op_names, run_ids_model, run_text_model

    kind = check_kind(model, kind)
    seq_length = sequence_length_of(model, seq_length)
    check_seq_length(model, seq_length)
    spm_bytes = spm_model_of(model, spm_model)
    options = tokenizer_options_of(model, tokenizer_options)
    tokenizer = AlbertTokenizer.from_serialized_proto(spm_bytes, **options)
    _check_vocab(model, tokenizer)
    unknown = [q for q in quantizations if q not in QUANTIZATIONS]
    if unknown or not quantizations:
        raise ValueError(f"Unknown --quantize {unknown or '(none given)'}; choose from {list(QUANTIZATIONS)}.")
    labels = _labels_for(model, kind, labels_of(model, labels))
    mediapipe_metadata = kind == "classifier" and _mediapipe_tokenizes_like(tokenizer)
    if "int8" in quantizations and not representative_texts:
        raise ValueError("--quantize int8 needs representative text: pass --representative-data (a text file "
                         "or a GLUE .tsv such as SST-2 dev.tsv).")
    target = pathlib.Path(output_dir)
    if target.exists() and not overwrite:
        raise ValueError(f"Bundle directory {target} already exists; pass --overwrite or another --output-dir.")
    target.parent.mkdir(parents=True, exist_ok=True)

    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        os.chmod(staging, 0o755)
        (staging / "spm.model").write_bytes(spm_bytes)
        (staging / "spm_vocab.tsv").write_text(spm_vocab_tsv(spm_bytes), encoding="utf-8")
        if labels is not None:
            (staging / "labels.txt").write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")

        def predict(inputs):
            outputs = serving_outputs(model, kind, {k: np.asarray(v) for k, v in inputs.items()})
            return {name: np.asarray(value) for name, value in outputs.items()}

        golden_outputs = list(DEVICE_OUTPUTS[kind]) if kind != "backbone" else ["pooled_output"]
        golden = build_golden(tokenizer, predict, kind, seq_length, golden_texts, labels,
                              output_names=golden_outputs)
        golden_inputs = {name: np.asarray([e[name] for e in golden["examples"]], np.int32)
                         for name in TENSOR_NAMES}

        data = None
        if "int8" in quantizations:
            data = representative_dataset(tokenizer, list(representative_texts), seq_length)
        models = []
        variants = [(quantize, False) for quantize in quantizations]
        if length_adaptive:
            variants += [(q, True) for q in quantizations if q in LENGTH_ADAPTIVE_QUANTIZATIONS]
        for quantize, adaptive in variants:
            flatbuffer = convert_ids_model(model, seq_length, quantize, data, kind, length_adaptive=adaptive)
            with_metadata = mediapipe_metadata and not adaptive  # MediaPipe takes the fixed [1, L] model
            if with_metadata:
                flatbuffer = add_classifier_metadata(flatbuffer, staging / "spm.model", labels)
            file = ADAPTIVE_MODEL_FILES[quantize] if adaptive else MODEL_FILES[quantize]
            (staging / file).write_bytes(flatbuffer)
            # An adaptive model runs each golden row cut to its real tokens, as an app feeds it.
            outputs = run_ids_model(make_interpreter(flatbuffer), golden_inputs, length_adaptive=adaptive)
            diff = _max_diff_to_golden(outputs, golden, golden_outputs)
            golden["tolerance"][file] = max(_TOLERANCE_FLOOR[quantize], float(f"{2 * diff:.2g}"))
            entry = {
                "file": file, "input": "ids", "quantization": quantize, "ops": op_names(flatbuffer),
                "builtin_ops_only": not non_builtin_ops(flatbuffer),
                "metadata": "mediapipe_text_classifier" if with_metadata else None,
                "max_abs_diff_vs_keras": diff,
            }
            if kind == "classifier":
                agree = np.argmax(outputs["probabilities"], -1) == [e["label"] for e in golden["examples"]]
                entry["golden_argmax_agreement"] = float(np.mean(agree))
            models.append(entry)
        if text_model:
            flatbuffer = convert_text_model(model, spm_bytes, seq_length, kind, **options)
            (staging / TEXT_MODEL_FILE).write_bytes(flatbuffer)
            outputs = run_text_model(flatbuffer, [e["text"] for e in golden["examples"]])
            diff = _max_diff_to_golden(outputs, golden, golden_outputs)
            golden["tolerance"][TEXT_MODEL_FILE] = max(_TOLERANCE_FLOOR["none"], float(f"{2 * diff:.2g}"))
            models.append({
                "file": TEXT_MODEL_FILE, "input": "text", "quantization": "none", "ops": op_names(flatbuffer),
                "builtin_ops_only": False, "requires": non_builtin_ops(flatbuffer), "metadata": None,
                "max_abs_diff_vs_keras": diff,
                "note": "Linux/Python: ai_edge_litert with tensorflow-text's op registrar "
                        "(albert_tf.export.tflite.run_text_model); phones take the token-id models.",
            })
        (staging / "golden.json").write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        manifest = build_manifest(model, kind, tokenizer, seq_length, labels, models, staging)
        validate_manifest(manifest)  # export/schemas/bundle_manifest_v1.schema.json
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
        publish_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BundleResult(target, manifest, golden)


def _max_diff_to_golden(outputs: dict[str, np.ndarray], golden: dict, names: Sequence[str]) -> float:
    """Max |output - golden Keras output| over the golden examples and the named outputs.

    Per-token outputs (span logits) are compared at real tokens only: a
    length-adaptive model has no padding positions to answer for.
    """
    examples = golden["examples"]
    mask = np.asarray([e["input_mask"] for e in examples], bool)
    diffs = []
    for name in names:
        got = outputs[name].reshape(len(examples), -1)
        expected = np.asarray([e[name] for e in examples])
        delta = np.abs(got - expected)
        if name in ("start_logits", "end_logits"):
            delta = np.where(mask, delta, 0.0)
        diffs.append(float(np.max(delta)))
    return max(diffs)


def build_manifest(model: keras.Model, kind: str, tokenizer: AlbertTokenizer, seq_length: int,
                   labels: Sequence[str] | None, models: list[dict], directory: pathlib.Path) -> dict:
    """The manifest dict (keys documented in the README's export section)."""
    outputs = []
    for name in DEVICE_OUTPUTS[kind]:
        shape = {"probabilities": [1, len(labels or [])], "start_logits": [1, seq_length],
                 "end_logits": [1, seq_length], "pooled_output": [1, backbone_of(model).config.hidden_size],
                 "sequence_output": [1, seq_length, backbone_of(model).config.hidden_size]}[name]
        outputs.append({"name": name, "dtype": "float32", "shape": shape})
    special = {"pad": tokenizer.pad_id, "unk": tokenizer.unk_id, "cls": tokenizer.cls_id,
               "sep": tokenizer.sep_id, "mask": tokenizer.mask_id}
    files = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name != "manifest.json":
            files[path.name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return {
        "format": MANIFEST_FORMAT,
        "task": kind,
        "seq_length": seq_length,
        "max_position_embeddings": backbone_of(model).config.max_position_embeddings,
        "labels": list(labels) if labels is not None else None,
        "inputs": [
            {"name": name, "tensor_name": TENSOR_NAMES[name], "metadata_name": _INPUT_ROLES[name][0],
             "role": _INPUT_ROLES[name][1], "dtype": "int32", "shape": [1, seq_length]}
            for name in TENSOR_NAMES
        ],
        "outputs": outputs,
        "models": models,
        "tokenizer": {
            "type": "sentencepiece",
            "model_file": "spm.model",
            "vocab_file": "spm_vocab.tsv",
            "vocab_size": tokenizer.vocab_size,
            "special_ids": special,
            "normalization": {
                # In this order, before SentencePiece (albert_tf.tokenizer.normalize_text).
                "collapse_whitespace": True,
                "replace_latex_quotes": True,
                "strip_accents": tokenizer.strip_accents,
                "lower_case": tokenizer.lower_case,
                "split_digit_comma": tokenizer.split_digit_comma,
            },
            # id -> replacement ids of the digit-comma rule (applied after SentencePiece).
            "digit_comma_table": {str(k): list(v) for k, v in sorted(tokenizer.digit_comma_table.items())},
            "packing": "[CLS] ids[:L-2] [SEP], then pad_id; mask 1 on [CLS]..[SEP]; segment ids 0",
        },
        "files": files,
        "tool_versions": tool_versions(),
    }


def _labels_for(model: keras.Model, kind: str, labels: Sequence[str] | None) -> list[str] | None:
    if kind != "classifier":
        return None
    classes = num_labels(model)
    labels = [str(i) for i in range(classes)] if labels is None else [str(label) for label in labels]
    if len(labels) != classes:
        raise ValueError(f"{len(labels)} labels given for a classifier with {classes} classes; "
                         f"pass {classes} labels (--labels a,b,...).")
    if any(not label or "\n" in label for label in labels):
        raise ValueError(f"Labels must be non-empty single-line strings. Received: {labels}")
    return labels


def _check_vocab(model: keras.Model, tokenizer: AlbertTokenizer) -> None:
    vocab = backbone_of(model).config.vocab_size
    if tokenizer.vocab_size != vocab:
        raise ValueError(f"The SentencePiece model has {tokenizer.vocab_size} pieces but the model's vocab_size is "
                         f"{vocab}: pass the --spm-model the model was trained with.")
