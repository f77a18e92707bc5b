"""TFLite metadata that lets MediaPipe Tasks `TextClassifier` load the classifier directly.

What MediaPipe reads (the contract in /work/shared/REFERENCE.md section 5):
input tensors described as `ids`, `mask`, `segment_ids`, a SentencePiece
tokenizer process unit with the spm model attached, and one float32 score
output `[1, N]` with the labels attached as TENSOR_AXIS_LABELS. MediaPipe
then lowercases the text, SentencePiece-encodes it (no accent stripping, no
digit-comma split: see `albert_tf.export.mediapipe_tokenization`) and packs
`[CLS] pieces[:L-2] [SEP]`.

Written with mediapipe's own metadata writer (the maintained one; the
`tflite-support` writers pin protobuf<4 and numpy<2 and do not install
beside TF 2.20). In the mediapipe 1.2.2 wheel that writer imports a native
module the wheel lacks, `mediapipe.tasks.cc.metadata.python.
_pywrap_metadata_version`, whose only job is to report the minimum metadata
parser version the buffer needs; `_ensure_metadata_version_module` provides
it for the features this module writes.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import shutil
import sys
import tempfile
import types
from typing import Sequence

_VERSION_MODULE = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
# The oldest metadata parser that reads what `add_classifier_metadata` writes:
# input process units and SentencePieceTokenizerOptions arrived in schema
# 1.1.0; nothing here (no regex tokenizer, tensor groups, custom metadata or
# versioned associated files) needs a later one.
MIN_PARSER_VERSION = "1.1.0"

MODEL_NAME = "ALBERT text classifier"


MEDIAPIPE_REQUIREMENT = "mediapipe==1.2.2"


def _require_mediapipe() -> None:
    """A clear message instead of a bare ImportError when MediaPipe, a dependency
    of albert-tf, is missing from the environment (removed, or a `--no-deps` install)."""
    import importlib.util

    if importlib.util.find_spec("mediapipe") is None:
        raise ValueError(
            "Writing MediaPipe metadata needs MediaPipe, a dependency of albert-tf that is missing here: "
            f"run `pip install {MEDIAPIPE_REQUIREMENT}` (or reinstall albert-tf)."
        )


def _ensure_metadata_version_module() -> None:
    """Makes mediapipe's metadata writer importable when its native version module is missing."""
    try:
        importlib.import_module(_VERSION_MODULE)
        return
    except ImportError:
        pass
    parts = _VERSION_MODULE.split(".")
    for depth in range(2, len(parts)):
        package = ".".join(parts[:depth])
        if package not in sys.modules:
            try:
                importlib.import_module(package)
            except ImportError:
                stub = types.ModuleType(package)
                stub.__path__ = []  # a namespace-like package, so the next level can be attached
                sys.modules[package] = stub
    version_module = types.ModuleType(_VERSION_MODULE)
    version_module.GetMinimumMetadataParserVersion = lambda buffer: MIN_PARSER_VERSION
    sys.modules[_VERSION_MODULE] = version_module
    setattr(sys.modules[".".join(parts[:-1])], parts[-1], version_module)


def add_classifier_metadata(
    flatbuffer: bytes,
    spm_model_path: str | os.PathLike,
    labels: Sequence[str],
    description: str = "Classifies text with ALBERT. Inputs: SentencePiece ids, mask, segment ids; "
                       "output: softmax probabilities.",
) -> bytes:
    """`flatbuffer` (an on-device classifier from `albert_tf.export.tflite`) with MediaPipe TextClassifier metadata.

    Args:
        flatbuffer: the `.tflite` bytes; inputs named as `albert_tf.export.tflite.TENSOR_NAMES`.
        spm_model_path: the SentencePiece model, attached as `spm.model`.
        labels: one name per class, in output order; attached as `labels.txt`.
        description: the model description stored in the metadata.

    Raises:
        ValueError: the number of labels differs from the output width, or
            the spm model is missing.
    """
    from albert_tf.export.model_source import check_spm_model
    from albert_tf.export.tflite import TENSOR_NAMES

    spm_model_path = check_spm_model(spm_model_path)
    _check_label_count(flatbuffer, labels)
    _require_mediapipe()
    _ensure_metadata_version_module()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    with tempfile.TemporaryDirectory() as staging:
        # The writer names each attached file by its basename.
        spm_copy = pathlib.Path(staging) / "spm.model"
        shutil.copyfile(spm_model_path, spm_copy)
        labels_file = pathlib.Path(staging) / "labels.txt"
        labels_file.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
        writer = metadata_writer.MetadataWriter.create(bytearray(flatbuffer))
        try:
            writer.add_general_info(MODEL_NAME, description)
            writer.add_bert_text_input(
                metadata_writer.SentencePieceTokenizer(sentence_piece_model_path=str(spm_copy)),
                ids_name=TENSOR_NAMES["input_word_ids"],
                mask_name=TENSOR_NAMES["input_mask"],
                segment_name=TENSOR_NAMES["input_type_ids"],
            )
            writer.add_classification_output(metadata_writer.Labels().add_from_file(str(labels_file)))
            model, _ = writer.populate()
        finally:
            # Clean its temporary folder now, not at interpreter exit (where its __del__ fails).
            del writer
    return bytes(model)


def read_metadata(flatbuffer: bytes) -> dict:
    """The metadata of a `.tflite` as a dict (MediaPipe's JSON view), and the attached file names."""
    _ensure_metadata_version_module()
    from mediapipe.tasks.python.metadata import metadata

    displayer = metadata.MetadataDisplayer.with_model_buffer(bytearray(flatbuffer))
    content = json.loads(displayer.get_metadata_json())
    content["packed_associated_files"] = sorted(displayer.get_packed_associated_file_list())
    return content


def _check_label_count(flatbuffer: bytes, labels: Sequence[str]) -> None:
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    graph = model.Subgraphs(0)
    if graph.OutputsLength() != 1:
        raise ValueError(
            f"MediaPipe TextClassifier metadata needs a model with one score output; this one has "
            f"{graph.OutputsLength()}. Export an AlbertClassifier."
        )
    width = graph.Tensors(graph.Outputs(0)).ShapeAsNumpy()[-1]
    if len(labels) != width:
        raise ValueError(f"{len(labels)} labels given for a classifier with {width} classes; pass {width} labels.")
