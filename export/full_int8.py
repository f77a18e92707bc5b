"""Full int8 for CPUs: int8 where XNNPACK has int8 kernels, float where it has not.

`tflite.convert_ids_model(..., quantize="int8")` calibrates the activations on
real text. Quantizing *every* op (`TFLITE_BUILTINS_INT8`) made the base
encoder 3x slower than dynamic int8 on x86 (benchmarks/results/int8_profile.md):
LiteRT's XNNPACK delegate has no int8 kernel for BATCH_MATMUL with two
activation inputs (the attention scores and context), SQUARED_DIFFERENCE and
RSQRT (LayerNorm), SOFTMAX or GELU, so those ops fall back to LiteRT's own
int8 kernels (an int8 attention BATCH_MATMUL takes ~2 ms there, XNNPACK's
float one 0.13 ms) and cut albert_base into 91 delegate partitions.

`CPU_INT8_OPS` is the recipe that pays: only FULLY_CONNECTED (every matmul
with a weight: query, key, value, attention output, feed-forward, pooler,
head) and GATHER (the embedding tables) take int8 activations; attention
matmuls, softmax, GELU, LayerNorm and the residual adds stay float32 and run
in XNNPACK's float kernels, with a QUANTIZE before and a DEQUANTIZE after each
int8 island. Weights are int8 either way (the file is as small), and the whole
graph is one XNNPACK partition. `int8_ops=None` quantizes every op
(the old graph), for int8-only accelerators (NPU, DSP, Edge TPU).

The selection uses the converter's own selective quantization
(`tf.lite.experimental.QuantizationDebugger` with `denylisted_ops`): every
builtin op outside `int8_ops` is kept float.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

# Ops that keep int8 activations in the CPU recipe (see the module docstring).
CPU_INT8_OPS: tuple[str, ...] = ("FULLY_CONNECTED", "GATHER")
# Ops that only convert between float and int8 (never "int8 compute").
CONVERSION_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})

RepresentativeData = Callable[[], Iterable[Mapping[str, np.ndarray]]]


def builtin_op_names() -> list[str]:
    """Every TFLite builtin operator name (`BuiltinOperator`), CUSTOM excluded."""
    from tensorflow.lite.python import schema_py_generated as schema

    return sorted(name for name in vars(schema.BuiltinOperator) if not name.startswith("_") and name != "CUSTOM")


def float_ops(int8_ops: Sequence[str]) -> list[str]:
    """The ops to keep float (`denylisted_ops`): every builtin outside `int8_ops`.

    Raises:
        ValueError: a name in `int8_ops` is not a TFLite builtin.
    """
    names = builtin_op_names()
    unknown = sorted(set(int8_ops) - set(names))
    if unknown:
        raise ValueError(f"Unknown TFLite ops {unknown} in int8_ops; use BuiltinOperator names such as "
                         f"{list(CPU_INT8_OPS)}.")
    return [name for name in names if name not in set(int8_ops)]


def quantize_int8(
    converter: tf.lite.TFLiteConverter,
    representative_data: RepresentativeData,
    int8_ops: Sequence[str] | None = CPU_INT8_OPS,
) -> bytes:
    """Converts with int8 weights and calibrated int8 activations for `int8_ops`.

    Args:
        converter: a converter set up for float builtins (its optimizations,
            representative dataset and supported ops are set here).
        representative_data: a callable yielding input dicts (calibration).
        int8_ops: op names that take int8 activations; all other ops stay
            float32 (None: every op int8, `TFLITE_BUILTINS_INT8`).

    Returns:
        The `.tflite` flatbuffer; inputs and outputs keep their float / int32 types.
    """
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ({k: np.asarray(v) for k, v in x.items()}
                                                for x in representative_data())
    if int8_ops is None:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return converter.convert()
    denylisted = float_ops(int8_ops)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    logger.info("Full int8: int8 activations for %s, float for the other ops.", ", ".join(int8_ops))
    # The debugger calibrates once (the converter's representative dataset) and
    # quantizes the calibrated model with the denylist; its numeric-verify model is not used.
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=lambda: ([np.asarray(v) for v in x.values()] for x in representative_data()),
        debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=denylisted))
    return debugger.get_nondebug_quantized_model()


def int8_op_names(flatbuffer: bytes) -> list[str]:
    """Sorted names of the ops that compute on int8 activations.

    An op counts when one of its non-constant inputs or one of its outputs is
    int8; QUANTIZE and DEQUANTIZE (conversions) are left out.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    graph = model.Subgraphs(0)
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}

    def is_int8_activation(index: int) -> bool:
        if index < 0:
            return False
        tensor = graph.Tensors(index)
        buffer = model.Buffers(tensor.Buffer())
        constant = buffer is not None and (buffer.DataLength() > 0 or buffer.Size() > 0)
        return tensor.Type() == schema.TensorType.INT8 and not constant

    found = set()
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        tensors = [op.Inputs(j) for j in range(op.InputsLength())] + [op.Outputs(j) for j in range(op.OutputsLength())]
        if name not in CONVERSION_OPS and any(is_int8_activation(t) for t in tensors):
            found.add(name)
    return sorted(found)
