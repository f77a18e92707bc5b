"""TFLite: fp32 equals Keras, quantized variants agree on the argmax, builtin ops only."""

from __future__ import annotations

import numpy as np
import pytest

import export_helpers as helpers
from albert_tf.export.bundle import MODEL_FILES
from albert_tf.export.tflite import make_interpreter, non_builtin_ops, op_names, run_ids_model

# Max |probability - Keras fp32| on the golden texts, measured (tiny SST-2
# classifier, L=32): fp32 6e-8, fp16 1.3e-4, dynamic 1.2e-3, full int8 7.2e-3
# (0.35 before the int8 graph got a padding score of -50 instead of -10000).
BOUNDS = {"none": 1e-4, "fp16": 2e-3, "dynamic": 2e-2, "int8": 5e-2}


def _golden_inputs(golden):
    return {name: np.asarray([e[name] for e in golden["examples"]], np.int32)
            for name in ("input_word_ids", "input_mask", "input_type_ids")}


@pytest.mark.parametrize("quantize", ["none", "fp16", "dynamic", "int8"])
def test_tflite_matches_keras(quantize):
    result = helpers.bundle()
    golden = result.golden
    inputs = _golden_inputs(golden)
    expected = helpers.keras_outputs(inputs)["probabilities"]
    path = result.directory / MODEL_FILES[quantize]
    interpreter = make_interpreter(path, num_threads=2)
    names = {d["name"] for d in interpreter.get_input_details()}
    assert names == {f"serving_default_{n}:0" for n in inputs}
    assert all(d["dtype"] == np.int32 and list(d["shape"]) == [1, helpers.SEQ_LENGTH]
               for d in interpreter.get_input_details())
    got = run_ids_model(interpreter, inputs)["probabilities"]
    diff = float(np.max(np.abs(got - expected)))
    agreement = float(np.mean(got.argmax(-1) == expected.argmax(-1)))
    print(f"{quantize}: max |p - keras| = {diff:.2e}, golden argmax agreement {agreement:.0%}")
    assert diff < BOUNDS[quantize]
    assert agreement == 1.0


def test_on_device_models_use_builtin_ops_only():
    result = helpers.bundle()
    for quantize, file in MODEL_FILES.items():
        flatbuffer = (result.directory / file).read_bytes()
        assert non_builtin_ops(flatbuffer) == [], file
        ops = op_names(flatbuffer)
        assert "SOFTMAX" in ops and "GELU" in ops and "GATHER" in ops and "FULLY_CONNECTED" in ops
        assert not any(op.startswith("Flex") for op in ops) and "CUSTOM" not in ops
