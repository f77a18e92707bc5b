"""SavedModel for TF Serving: token-id and raw-text signatures, versioned layout.

Layout: `<base>/<version>/saved_model.pb` + `variables/`, the directory
TF Serving watches (`--model_base_path=<base>`); a new version appears by an
atomic rename, so a server never loads a half-written one.

Signatures:

* `serving_default`: `input_word_ids`, `input_mask`, `input_type_ids`, int32
  `[batch, seq]` (any seq up to the model's max positions).
* `serve_text`: `text`, string `[batch]`; tokenized in the graph with
  `AlbertGraphTokenizer` (ids identical to `AlbertTokenizer`), packed to
  `[CLS] text [SEP]` at the export's sequence length.
* `serve_text_pair`: `text`, `text_pair`, string `[batch]` each: `[CLS] a [SEP] b [SEP]`.
  (A signature cannot have an optional input, so pairs have their own.)

Outputs by model kind (`albert_tf.export.heads`): classifier `probabilities`, `logits`;
span QA `start_logits`, `end_logits`; backbone `sequence_output`,
`pooled_output`. The text signatures also return the packed `input_word_ids`
and `input_mask` (to map span logits back to tokens).

Loading the text signatures needs `import tensorflow_text` first (it registers
the SentencePiece op); `serving_default` needs only TensorFlow.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

import keras
import tensorflow as tf

from albert_tf.backbone import INPUT_NAMES
from albert_tf.export.heads import ModelKind, check_kind, check_seq_length, serving_outputs

SIGNATURES = ("serving_default", "serve_text", "serve_text_pair")


class ServingModule(tf.Module):
    """The exported object: the Keras model, the graph tokenizer and the signature functions."""

    def __init__(self, model: keras.Model, kind: ModelKind, tokenizer, seq_length: int) -> None:
        super().__init__(name="albert_serving")
        self.model = model
        self.tokenizer = tokenizer
        self._kind = kind
        self._seq_length = seq_length
        ids_spec = [tf.TensorSpec([None, None], tf.int32, name=name) for name in INPUT_NAMES]
        self.serve_ids = tf.function(self._serve_ids, input_signature=ids_spec, autograph=False)
        self.serve_text = tf.function(
            self._serve_text, input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False
        )
        self.serve_text_pair = tf.function(
            self._serve_text_pair,
            input_signature=[tf.TensorSpec([None], tf.string, name="text"),
                             tf.TensorSpec([None], tf.string, name="text_pair")],
            autograph=False,
        )

    def _serve_ids(self, input_word_ids, input_mask, input_type_ids):
        inputs = {"input_word_ids": input_word_ids, "input_mask": input_mask, "input_type_ids": input_type_ids}
        return serving_outputs(self.model, self._kind, inputs)

    def _serve_packed(self, packed):
        outputs = serving_outputs(self.model, self._kind, packed)
        outputs.update(input_word_ids=packed["input_word_ids"], input_mask=packed["input_mask"])
        return outputs

    def _serve_text(self, text):
        ids = self.tokenizer.tokenize(text)
        return self._serve_packed(self.tokenizer.pack_inputs(ids, max_seq_length=self._seq_length))

    def _serve_text_pair(self, text, text_pair):
        packed = self.tokenizer.pack_inputs(
            self.tokenizer.tokenize(text), self.tokenizer.tokenize(text_pair), max_seq_length=self._seq_length
        )
        return self._serve_packed(packed)

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        return {
            "serving_default": self.serve_ids.get_concrete_function(),
            "serve_text": self.serve_text.get_concrete_function(),
            "serve_text_pair": self.serve_text_pair.get_concrete_function(),
        }


def next_version(base_dir: str | os.PathLike) -> int:
    """One more than the largest integer version directory under `base_dir` (1 when none)."""
    base = pathlib.Path(base_dir)
    versions = [int(path.name) for path in base.iterdir() if path.is_dir() and path.name.isdigit()] \
        if base.is_dir() else []
    return max(versions, default=0) + 1


def export_saved_model(
    model: keras.Model,
    base_dir: str | os.PathLike,
    spm_model: str | os.PathLike | bytes | None = None,
    seq_length: int | None = None,
    version: int | None = None,
    kind: ModelKind | None = None,
    lower_case: bool | None = None,
    strip_accents: bool | None = None,
    split_digit_comma: bool | None = None,
) -> pathlib.Path:
    """Writes `model` as a TF Serving SavedModel at `<base_dir>/<version>/`.

    Args:
        model: an AlbertClassifier, AlbertSpanQA or AlbertBackbone.
        base_dir: the model base path TF Serving watches.
        spm_model: the SentencePiece model (path or bytes) for the text signatures;
            None: the model's own (a model loaded from a preset carries it, with its options).
        seq_length: the packed length of the text signatures (None: the model's preprocessor's, else 128).
        version: the version directory; default: the next free integer.
        kind: the expected model kind (None: detect it).
        lower_case, strip_accents, split_digit_comma: the tokenizer options (None: the model's own
            tokenizer's, also with an explicit `spm_model`; else ALBERT's default, True).

    Returns:
        The version directory.

    Raises:
        ValueError: wrong kind, a sequence length above the model's max
            positions, a missing spm model, or an existing version directory.
    """
    from albert_tf.graph_tokenizer import AlbertGraphTokenizer
    from albert_tf.export.model_source import sequence_length_of, spm_model_of, tokenizer_options_of

    kind = check_kind(model, kind)
    seq_length = sequence_length_of(model, seq_length)
    check_seq_length(model, seq_length)
    options = tokenizer_options_of(model, {"lower_case": lower_case, "strip_accents": strip_accents,
                                           "split_digit_comma": split_digit_comma})
    tokenizer = AlbertGraphTokenizer(spm_model_of(model, spm_model), **options)
    base = pathlib.Path(base_dir)
    version = next_version(base) if version is None else int(version)
    target = base / str(version)
    if target.exists():
        raise ValueError(f"SavedModel version directory {target} already exists; pass another --version.")
    base.mkdir(parents=True, exist_ok=True)
    module = ServingModule(model, kind, tokenizer, seq_length)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base))
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it owner-only; a server may run as another user
        tf.saved_model.save(module, str(staging), signatures=module.signatures())
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
