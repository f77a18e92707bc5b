"""Export ALBERT models for serving and the edge.

* `albert_tf.export.saved_model.export_saved_model`: TF Serving SavedModel (`<base>/<version>/`)
  with `serving_default` (token ids) and `serve_text` / `serve_text_pair` (raw strings).
* `albert_tf.export.tflite.convert_ids_model`: on-device `.tflite` (ids in, builtin ops only;
  `none`, `fp16`, `dynamic`, `int8` quantization); `convert_text_model`: text in
  (builtins + tf-text's tokenizer op; `run_text_model` runs it).
* `albert_tf.export.metadata.add_classifier_metadata`: MediaPipe Tasks `TextClassifier` metadata.
* `albert_tf.export.publishing.export_model`: both of the above from a preset folder (or `.keras`),
  built aside and published together (what `albert export` runs).
* `albert_tf.export.bundle.export_bundle`: the edge bundle directory (models, spm model and
  vocabulary, labels, manifest.json, golden.json).

The command line is `albert export` (`albert_tf/cli/export.py`).
"""

from albert_tf.export.bundle import BundleResult, export_bundle
from albert_tf.export.heads import MODEL_KINDS, detect_kind
from albert_tf.export.publishing import ExportRequest, ExportResult, export_model
from albert_tf.export.saved_model import export_saved_model
from albert_tf.export.tflite import QUANTIZATIONS, convert_ids_model, convert_text_model, non_builtin_ops, op_names

__all__ = [
    "BundleResult", "ExportRequest", "ExportResult", "MODEL_KINDS", "QUANTIZATIONS", "convert_ids_model", "convert_text_model", "detect_kind",
    "export_bundle", "export_model", "export_saved_model", "non_builtin_ops", "op_names",
]
