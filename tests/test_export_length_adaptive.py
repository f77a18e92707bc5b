"""Length-adaptive on-device models: `[1, -1]` inputs fed n real tokens answer as the fixed `[1, L]` model.

Tiny random models (weights drawn wider than the initializer's, so that a
padding token that leaked into attention or a misplaced position embedding
moves the outputs far beyond the tolerance); no shared data needed.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from albert_tf import AlbertConfig
from albert_tf.backbone import AlbertBackbone
from albert_tf.tasks import AlbertClassifier, AlbertSpanQA
from albert_tf.export.tflite import (convert_ids_model, input_shape_signatures, is_length_adaptive, make_interpreter,
                                     real_length, run_ids_model)

SEQ = 24
LENGTHS = (3, 5, 11, 17, 23, 24)
FIELDS = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=64, max_position_embeddings=32)


def _randomized(model: keras.Model, seed: int) -> keras.Model:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def _padded_rows(seed: int = 0) -> dict[str, np.ndarray]:
    """One row per length in LENGTHS: [CLS]-like id, random ids, padded to SEQ with id 0 and mask 0."""
    rng = np.random.default_rng(seed)
    rows = len(LENGTHS)
    ids = np.zeros((rows, SEQ), np.int32)
    mask = np.zeros((rows, SEQ), np.int32)
    types = np.zeros((rows, SEQ), np.int32)
    for row, n in enumerate(LENGTHS):
        ids[row, :n] = rng.integers(5, FIELDS["vocab_size"], n)
        mask[row, :n] = 1
        types[row, n // 2:n] = 1  # a second segment: segment ids travel with the cut too
        ids[row, n:] = rng.integers(5, FIELDS["vocab_size"], SEQ - n) * (row % 2)  # padding ids: 0, or junk
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


@pytest.fixture(scope="module")
def backbone() -> AlbertBackbone:
    keras.utils.set_random_seed(11)
    return _randomized(AlbertBackbone(AlbertConfig(**FIELDS)), 11)


def test_fp32_length_adaptive_equals_fixed_length(backbone):
    """Every output at every real position within 1e-5, for n from 3 to L, padding ids junk or 0."""
    inputs = _padded_rows()
    fixed = run_ids_model(make_interpreter(convert_ids_model(backbone, SEQ)), inputs)
    adaptive_model = convert_ids_model(backbone, SEQ, length_adaptive=True)
    adaptive = run_ids_model(make_interpreter(adaptive_model), inputs, length_adaptive=True)
    assert np.std(fixed["pooled_output"], axis=0).mean() > 0.01, "outputs do not depend on the input"
    # The check can fail: the fixed model attending to its padding (mask all ones) is far off.
    leaked = run_ids_model(make_interpreter(convert_ids_model(backbone, SEQ)),
                           {**inputs, "input_mask": np.ones_like(inputs["input_mask"])})
    assert np.max(np.abs(leaked["pooled_output"][:-1] - fixed["pooled_output"][:-1])) > 1e-2
    pooled_diff = float(np.max(np.abs(adaptive["pooled_output"] - fixed["pooled_output"])))
    mask = inputs["input_mask"].astype(bool)
    sequence_diff = float(np.max(np.abs(adaptive["sequence_output"] - fixed["sequence_output"])[mask]))
    print(f"max |adaptive - fixed|: pooled {pooled_diff:.1e}, sequence (real positions) {sequence_diff:.1e}")
    assert pooled_diff < 1e-5 and sequence_diff < 1e-5
    # Cut rows really are shorter (the runner resized the inputs), and padded back with zeros.
    assert np.all(adaptive["sequence_output"][~mask] == 0)


def test_fp32_length_adaptive_classifier_and_span_qa_equal_fixed_length():
    keras.utils.set_random_seed(5)
    classifier = _randomized(AlbertClassifier(AlbertBackbone(AlbertConfig(**FIELDS)), num_classes=3, dropout=0.0), 5)
    qa = _randomized(AlbertSpanQA(AlbertBackbone(AlbertConfig(**FIELDS))), 6)
    inputs = _padded_rows(1)
    mask = inputs["input_mask"].astype(bool)
    for model, names in ((classifier, ["probabilities"]), (qa, ["start_logits", "end_logits"])):
        fixed = run_ids_model(make_interpreter(convert_ids_model(model, SEQ)), inputs)
        adaptive = run_ids_model(make_interpreter(convert_ids_model(model, SEQ, length_adaptive=True)), inputs,
                                 length_adaptive=True)
        for name in names:
            got, expected = adaptive[name], fixed[name]
            if name != "probabilities":
                got, expected = got[mask], expected[mask]
            assert np.max(np.abs(got - expected)) < 1e-5, name
    assert len(set(np.argmax(fixed["start_logits"], -1))) > 1


def test_dynamic_int8_length_adaptive_is_close_to_fixed_length(backbone):
    """Dynamic-range int8 quantizes activations per call: not bit-equal, but as close as fp32 vs int8 are."""
    inputs = _padded_rows(2)
    reference = run_ids_model(make_interpreter(convert_ids_model(backbone, SEQ)), inputs)["pooled_output"]
    fixed = run_ids_model(make_interpreter(convert_ids_model(backbone, SEQ, "dynamic")), inputs)["pooled_output"]
    adaptive = run_ids_model(make_interpreter(convert_ids_model(backbone, SEQ, "dynamic", length_adaptive=True)),
                             inputs, length_adaptive=True)["pooled_output"]
    quantization_error = float(np.max(np.abs(fixed - reference)))
    print(f"dynamic int8: |fixed - fp32| {quantization_error:.1e}, |adaptive - fixed| "
          f"{np.max(np.abs(adaptive - fixed)):.1e}")
    assert np.max(np.abs(adaptive - fixed)) <= 2 * quantization_error + 1e-6


def test_input_shapes_say_which_model_is_which(backbone):
    fixed = convert_ids_model(backbone, SEQ)
    adaptive = convert_ids_model(backbone, SEQ, length_adaptive=True)
    assert input_shape_signatures(fixed) == [[1, SEQ]] * 3 and not is_length_adaptive(fixed)
    assert input_shape_signatures(adaptive) == [[1, -1]] * 3 and is_length_adaptive(adaptive)
    details = make_interpreter(adaptive).get_signature_runner().get_input_details()
    assert {name: list(d["shape_signature"]) for name, d in details.items()} == {
        name: [1, -1] for name in ("input_word_ids", "input_mask", "input_type_ids")}


def test_full_int8_is_refused_length_adaptive(backbone):
    with pytest.raises(ValueError, match="full int8 is fixed-length only"):
        convert_ids_model(backbone, SEQ, "int8", representative_data=lambda: iter(()), length_adaptive=True)


def test_real_length_rejects_tokens_after_padding():
    assert real_length(np.array([1, 1, 1, 0, 0])) == 3
    assert real_length(np.ones(4, np.int32)) == 4
    with pytest.raises(ValueError, match="input_mask must be 1 on the real tokens"):
        real_length(np.array([1, 0, 1, 0]))
