"""TFLite conversion: the on-device token-id model and the text-in model.

On-device model (`convert_ids_model`): three named int32 inputs
`input_word_ids`, `input_mask`, `input_type_ids` of fixed shape `[1, L]`
(tensor names `serving_default_input_word_ids:0` etc.: the converter
prefixes the signature key; MediaPipe's metadata writer matches these names),
builtin ops only. A classifier outputs only
`probabilities` `[1, N]` (softmax inside: MediaPipe reads one score tensor);
span QA `start_logits`, `end_logits` `[1, L]`; a backbone `sequence_output`,
`pooled_output`. Our layers lower to builtins: embeddings -> GATHER (+ the
LESS/ADD/SELECT of negative-index wrapping), attention -> FULLY_CONNECTED /
BATCH_MATMUL / SOFTMAX (no einsum), GELU tanh -> GELU, LayerNorm ->
MEAN / SQUARED_DIFFERENCE / RSQRT.

Variables are frozen into constants before conversion: converting the Keras 3
model directly keeps resource variables (VAR_HANDLE / READ_VARIABLE), which
full-integer calibration cannot run and quantization cannot shrink.

Quantization (`--quantize`):
* `none`: float32.
* `fp16`: float16 weights, float32 compute (DEQUANTIZE at load).
* `dynamic`: int8 weights, activations quantized on the fly (dynamic range).
* `int8`: int8 weights, and int8 activations for the ops XNNPACK runs in
  int8 (FULLY_CONNECTED, GATHER; the rest stays float by design:
  `albert_tf.export.full_int8`), calibrated on a representative dataset of
  real tokenized text (`albert_tf.export.representative_data`); int32 ids in,
  float32 probabilities out. This graph adds `INT8_PADDING_SCORE` (-50), not
  the backbone's -10000, to the attention scores at padding positions: the
  sum `scores + bias` (and the BATCH_MATMUL output feeding it, which the
  quantizer gives the same range) gets one int8 range per tensor, and with
  -10000 in it the step is ~39, so the real scores (|s| < 3 on the tiny
  SST-2 classifier) all land on one level and attention turns uniform
  (argmax agreement with fp32 60%). With -50 the step is ~0.2 and agreement
  100% on 200 SST-2 dev sentences. In float, -50 and -10000 give the same
  outputs (the masked weights are below exp(-50 + d), d = how far a padding
  key out-scores the best real key: 0.3 measured), so the int8 model is
  still compared with the unchanged Keras model.

Length-adaptive model (`convert_ids_model(..., length_adaptive=True)`): the
same graph with inputs `[1, -1]` (shape signature; the flatbuffer's default
shape is `[1, 1]`): a caller feeds exactly the n real tokens `[CLS] .. [SEP]`
and LiteRT resizes the inputs (`SignatureRunner` in Python, `runSignature`
on Android, both call ResizeInputTensor + AllocateTensors). Padding is masked
out of every attention row and the outputs are read at real positions, so the
logits of n tokens equal the fixed-L model's on the same tokens padded to L
(fp32: equal to float rounding; `benchmarks/litert_latency.py` measures it).
Compute and activations scale with n instead of L: on SST-2 dev sentences
(mean 28 tokens) this is where the on-device latency goes. MediaPipe's
TextClassifier needs fixed `[1, L]` inputs, so the bundle keeps the fixed
models (with metadata) beside the length-adaptive ones. Full int8 stays
fixed-length (its calibration and int8 ranges are per length).

Text-in model (`convert_text_model`): a string `text` input `[batch]`,
tokenized in the graph by `albert_tf.export.lite_text_tokenizer.LiteTextTokenizer`:
builtin ops plus one tf-text custom op (FastSentencepieceTokenize), no Flex.
It runs in `ai_edge_litert` with tf-text's op registrar (`run_text_model`),
on Linux/Python; phones take the token-id model and tokenize in app code.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Mapping

import keras
import numpy as np
import tensorflow as tf

from albert_tf.backbone import INPUT_NAMES
from albert_tf.export.full_int8 import quantize_int8
from albert_tf.export.heads import ModelKind, check_kind, check_seq_length, serving_outputs

QUANTIZATIONS = ("none", "fp16", "dynamic", "int8")
# The on-device outputs per kind: a classifier serves probabilities only.
DEVICE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "classifier": ("probabilities",),
    "span_qa": ("start_logits", "end_logits"),
    "backbone": ("sequence_output", "pooled_output"),
}
# What the TFLite input tensors are called (checked after conversion).
TENSOR_NAMES = {name: f"serving_default_{name}:0" for name in INPUT_NAMES}

RepresentativeData = Callable[[], Iterable[Mapping[str, np.ndarray]]]
# Quantizations a length-adaptive (`[1, -1]`) model is converted with.
LENGTH_ADAPTIVE_QUANTIZATIONS = ("none", "fp16", "dynamic")
# Attention padding score of the full-int8 graph (see the module docstring).
INT8_PADDING_SCORE = -50.0


def with_padding_score(model: keras.Model, score: float) -> keras.Model:
    """A copy of `model` (same weights) whose backbone adds `score` at padding positions."""
    from albert_tf.backbone import attention_padding_score

    with attention_padding_score(score):
        clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


def _frozen_signature(fn: Callable, specs: list[tf.TensorSpec], output_names: tuple[str, ...]):
    """A concrete function with `specs` inputs and named outputs, variables frozen to constants."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    concrete = tf.function(fn, input_signature=specs, autograph=False).get_concrete_function()
    # Keep functional (v2) control flow: the tokenizer's tf.cond would not convert once lowered.
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False)
    names = [spec.name for spec in specs]

    def named(*tensors):
        # The frozen function returns a flat list; name the outputs again for the signature.
        results = frozen(**dict(zip(names, tensors)))
        return dict(zip(output_names, results))

    return tf.function(named, input_signature=specs, autograph=False).get_concrete_function()


def convert_ids_model(
    model: keras.Model,
    seq_length: int = 128,
    quantize: str = "none",
    representative_data: RepresentativeData | None = None,
    kind: ModelKind | None = None,
    int8_padding_score: float | None = INT8_PADDING_SCORE,
    length_adaptive: bool = False,
) -> bytes:
    """The on-device `.tflite` (token ids in, builtin ops only) as bytes.

    Args:
        model: an AlbertClassifier, AlbertSpanQA or AlbertBackbone.
        seq_length: the fixed sequence length L of the `[1, L]` inputs.
        quantize: one of `QUANTIZATIONS`.
        representative_data: for `int8`, a callable yielding input dicts
            (`albert_tf.export.representative_data.representative_dataset`).
        kind: the expected model kind (None: detect it).
        int8_padding_score: for `int8`, the attention padding score of the
            converted graph (None: the model's own, -10000, which leaves the
            attention scores one int8 level; see the module docstring).
        length_adaptive: inputs `[1, -1]` (any length up to the model's
            max positions; fed the real token count) instead of `[1, L]`;
            `seq_length` is then only checked. Not with `int8`.

    Raises:
        ValueError: an unknown quantization, int8 without data, a bad
            sequence length or kind, a length-adaptive int8 model, or a
            converted model with non-builtin ops.
    """
    kind = check_kind(model, kind)
    check_seq_length(model, seq_length)
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"Unknown --quantize {quantize!r}; choose one of {list(QUANTIZATIONS)}.")
    if quantize == "int8" and representative_data is None:
        raise ValueError("--quantize int8 needs representative data: pass --representative-data TEXT_OR_TSV.")
    if length_adaptive and quantize not in LENGTH_ADAPTIVE_QUANTIZATIONS:
        raise ValueError(f"A length-adaptive model is converted with --quantize {list(LENGTH_ADAPTIVE_QUANTIZATIONS)}, "
                         f"not {quantize!r}: full int8 is fixed-length only.")
    output_names = DEVICE_OUTPUTS[kind]
    specs = [tf.TensorSpec([1, None if length_adaptive else seq_length], tf.int32, name=name)
             for name in INPUT_NAMES]
    if quantize == "int8" and int8_padding_score is not None:
        model = with_padding_score(model, int8_padding_score)

    def forward(input_word_ids, input_mask, input_type_ids):
        inputs = {"input_word_ids": input_word_ids, "input_mask": input_mask, "input_type_ids": input_type_ids}
        outputs = serving_outputs(model, kind, inputs)
        return [outputs[name] for name in output_names]

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [_frozen_signature(forward, specs, output_names)], tf.Module())  # a trackable: keeps the signature
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    # int8: int8 FULLY_CONNECTED / GATHER, float where XNNPACK lacks int8 kernels (export/full_int8.py).
    flatbuffer = quantize_int8(converter, representative_data) if quantize == "int8" else converter.convert()
    names = sorted(input_tensor_names(flatbuffer))
    if names != sorted(TENSOR_NAMES.values()):
        raise RuntimeError(f"Converted input tensors are named {names}, expected {sorted(TENSOR_NAMES.values())}.")
    others = non_builtin_ops(flatbuffer)
    if others:
        raise ValueError(f"The converted on-device model uses non-builtin ops {others}; it would not run on LiteRT.")
    shapes = {tuple(shape) for shape in input_shape_signatures(flatbuffer)}
    expected = (1, -1) if length_adaptive else (1, seq_length)
    if shapes != {expected}:
        raise RuntimeError(f"Converted input shape signatures are {sorted(shapes)}, expected {[expected]}.")
    return flatbuffer


def convert_text_model(
    model: keras.Model,
    spm_model: str | os.PathLike | bytes,
    seq_length: int = 128,
    kind: ModelKind | None = None,
    lower_case: bool = True,
    strip_accents: bool = True,
    split_digit_comma: bool = True,
) -> bytes:
    """The text-in `.tflite`: input `text` string `[batch]`, outputs as the SavedModel's `serve_text`.

    Raises:
        ValueError: a bad sequence length or kind, or a converted graph with
            ops other than builtins and `TEXT_MODEL_CUSTOM_OPS`.
    """
    from albert_tf.export.model_source import check_spm_model
    from albert_tf.export.lite_text_tokenizer import TEXT_MODEL_CUSTOM_OPS, LiteTextTokenizer

    kind = check_kind(model, kind)
    check_seq_length(model, seq_length)
    tokenizer = LiteTextTokenizer(check_spm_model(spm_model), seq_length, lower_case, strip_accents,
                                  split_digit_comma)
    output_names = DEVICE_OUTPUTS[kind]

    def forward(text):
        outputs = serving_outputs(model, kind, tokenizer(text))
        return [outputs[name] for name in output_names]

    specs = [tf.TensorSpec([None], tf.string, name="text")]
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [_frozen_signature(forward, specs, output_names)], tf.Module())  # a trackable: keeps the signature
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = True  # FastSentencepieceTokenize, kernel from tf-text's registrar
    flatbuffer = converter.convert()
    unexpected = sorted(set(non_builtin_ops(flatbuffer)) - TEXT_MODEL_CUSTOM_OPS)
    if unexpected:
        raise ValueError(f"The text-in model uses ops {unexpected} that LiteRT with tf-text's registrar cannot run.")
    return flatbuffer


# ------------------------------------------------------------ inspection
def op_names(flatbuffer: bytes) -> list[str]:
    """Sorted names of the operator codes a `.tflite` uses (custom ops by their custom name)."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    builtin_names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    names = set()
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        # Codes above 127 live in `builtin_code`; older files only set the deprecated byte.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            names.add(code.CustomCode().decode("utf-8"))
        else:
            names.add(builtin_names[builtin])
    return sorted(names)


def input_tensor_names(flatbuffer: bytes) -> list[str]:
    """Names of the input tensors of the first subgraph, in input order."""
    from tensorflow.lite.python import schema_py_generated as schema

    graph = schema.Model.GetRootAs(flatbuffer, 0).Subgraphs(0)
    return [graph.Tensors(graph.Inputs(i)).Name().decode("utf-8") for i in range(graph.InputsLength())]


def input_shape_signatures(flatbuffer: bytes) -> list[list[int]]:
    """Shape signatures of the first subgraph's inputs, in input order (-1: resized at run time)."""
    from tensorflow.lite.python import schema_py_generated as schema

    graph = schema.Model.GetRootAs(flatbuffer, 0).Subgraphs(0)
    shapes = []
    for i in range(graph.InputsLength()):
        tensor = graph.Tensors(graph.Inputs(i))
        signature = tensor.ShapeSignatureAsNumpy() if tensor.ShapeSignatureLength() else tensor.ShapeAsNumpy()
        shapes.append([int(d) for d in signature])
    return shapes


def is_length_adaptive(flatbuffer: bytes) -> bool:
    """Whether an on-device model takes `[1, -1]` id inputs (fed the real token count)."""
    return all(shape[-1] == -1 for shape in input_shape_signatures(flatbuffer))


def non_builtin_ops(flatbuffer: bytes) -> list[str]:
    """Custom and Flex (SELECT_TF_OPS) ops in a `.tflite`: what stock LiteRT on a phone cannot run."""
    from tensorflow.lite.python import schema_py_generated as schema

    builtin = {name for name in vars(schema.BuiltinOperator) if not name.startswith("_")} - {"CUSTOM"}
    return [name for name in op_names(flatbuffer) if name not in builtin]


# --------------------------------------------------------------- running
def make_interpreter(model: bytes | str | os.PathLike, num_threads: int | None = None):
    """An `ai_edge_litert` interpreter (the runtime Android uses) for an on-device model."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, (bytes, bytearray)):
        return Interpreter(model_content=bytes(model), num_threads=num_threads)
    return Interpreter(model_path=os.fspath(model), num_threads=num_threads)


def real_length(mask: np.ndarray) -> int:
    """The real token count of one packed row: its mask is 1 on `[CLS] .. [SEP]`, then 0.

    Raises:
        ValueError: a mask that is not ones then zeros (tokens after padding).
    """
    mask = np.asarray(mask).reshape(-1)
    length = int(np.count_nonzero(mask))
    if not (np.all(mask[:length] == 1) and not np.any(mask[length:])):
        raise ValueError("input_mask must be 1 on the real tokens and 0 on the padding after them; "
                         f"received {mask.tolist()}.")
    return length


def run_ids_model(interpreter: Any, inputs: Mapping[str, np.ndarray],
                  length_adaptive: bool = False) -> dict[str, np.ndarray]:
    """Runs an on-device model row by row (it takes batch 1) and stacks the outputs.

    Args:
        interpreter: from `make_interpreter`.
        inputs: int32 `[rows, L]` arrays keyed by input name, padded as packed.
        length_adaptive: feed each row cut to its real tokens (`real_length`
            of its mask), as an app does with a length-adaptive model;
            per-token outputs (`[1, n]`, `[1, n, H]`) are padded back to L
            with zeros, so rows stack.
    """
    runner = interpreter.get_signature_runner("serving_default")
    rows, width = np.shape(next(iter(inputs.values())))[:2]
    results: dict[str, list[np.ndarray]] = {}
    for row in range(rows):
        end = real_length(inputs["input_mask"][row]) if length_adaptive else width
        out = runner(**{name: np.asarray(inputs[name][row:row + 1, :end], np.int32) for name in INPUT_NAMES})
        for name, value in out.items():
            value = value[0]
            if length_adaptive and name in _PER_TOKEN_OUTPUTS:
                value = np.pad(value, [(0, width - end)] + [(0, 0)] * (value.ndim - 1))
            results.setdefault(name, []).append(value)
    return {name: np.stack(values) for name, values in results.items()}


# Outputs with one value per token (their length follows the input's).
_PER_TOKEN_OUTPUTS = ("start_logits", "end_logits", "sequence_output")


def run_text_model(model: bytes | str | os.PathLike, texts: list[str],
                   num_threads: int | None = None) -> dict[str, np.ndarray]:
    """Runs the text-in model in `ai_edge_litert` on a batch of strings.

    The tokenizer op's kernel comes from tensorflow-text (its
    `tflite_registrar`), which must be importable; no Flex delegate is used.
    The same from plain ai_edge_litert::

        import tensorflow_text as tf_text
        from ai_edge_litert.interpreter import InterpreterWithCustomOps
        interpreter = InterpreterWithCustomOps(
            model_path="model_text.tflite",
            custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS)
        interpreter.get_signature_runner()(text=np.array(["a great film"]))
    """
    import tensorflow_text as tf_text
    from ai_edge_litert.interpreter import InterpreterWithCustomOps

    kwargs: dict[str, Any] = dict(custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS,
                                  num_threads=num_threads)
    if isinstance(model, (bytes, bytearray)):
        interpreter = InterpreterWithCustomOps(model_content=bytes(model), **kwargs)
    else:
        interpreter = InterpreterWithCustomOps(model_path=os.fspath(model), **kwargs)
    return interpreter.get_signature_runner()(text=np.asarray(texts, dtype=object))
