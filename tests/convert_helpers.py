"""Shared pieces of the checkpoint-conversion tests: random reference models and their outputs."""

from __future__ import annotations

import numpy as np

from albert_tf import AlbertConfig
from conftest import TINY_FIELDS, make_inputs

BATCH, SEQ, PAD = 2, 12, 3
TOLERANCE = 1e-4


def inputs_for(vocab_size: int) -> dict[str, np.ndarray]:
    return make_inputs(BATCH, SEQ, vocab_size, seed=3, pad=PAD)


def randomize_keras(model, seed: int = 0) -> None:
    """Every weight random (LayerNorm scales around 1) so that no mapping error can hide behind zeros or ones."""
    from albert_tf.convert import model_variables

    rng = np.random.default_rng(seed)
    for key, variable in model_variables(model).items():
        values = rng.normal(0.0, 0.1, tuple(variable.shape))
        if key.endswith("gamma"):
            values += 1.0
        variable.assign(values.astype("float32"))


def our_outputs(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """sequence/pooled outputs, and the MLM logits at every position and the SOP logits for a pretrainer."""
    from albert_tf.pretrainer import AlbertPretrainer

    if isinstance(model, AlbertPretrainer):
        positions = np.tile(np.arange(SEQ, dtype="int32"), (BATCH, 1))
        heads = model({**inputs, "masked_lm_positions": positions})
        encoded = model.backbone(inputs)
        return {
            "sequence_output": np.asarray(encoded["sequence_output"]),
            "pooled_output": np.asarray(encoded["pooled_output"]),
            "mlm_logits": np.asarray(heads["mlm_logits"]),
            "sop_logits": np.asarray(heads["sop_logits"]),
        }
    encoded = model(inputs)
    return {name: np.asarray(encoded[name]) for name in ("sequence_output", "pooled_output")}


def max_differences(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, float]:
    """Max abs difference per output that both sides have."""
    return {name: float(np.max(np.abs(ours[name] - reference[name]))) for name in reference if name in ours}


def assert_close(ours, reference, names=("sequence_output", "pooled_output", "mlm_logits", "sop_logits")) -> dict:
    diffs = max_differences(ours, reference)
    for name in names:
        assert name in diffs, f"{name} not compared"
        assert diffs[name] < TOLERANCE, f"{name}: max abs diff {diffs[name]:.3g}"
    return diffs


# ---------------------------------------------------------------- Hugging Face
def hf_config(**overrides):
    """A tiny transformers.AlbertConfig (tanh GELU unless `hidden_act` is given)."""
    import transformers

    fields = dict(TINY_FIELDS, hidden_act="gelu_new", hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0)
    fields.update(overrides)
    return transformers.AlbertConfig(**fields)


def random_hf_pretraining_model(config, seed: int = 0):
    """`AlbertForPreTraining` with every parameter random, in eval mode."""
    import torch
    import transformers

    torch.manual_seed(seed)
    model = transformers.AlbertForPreTraining(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn_like(parameter) * 0.2
            parameter.copy_(noise + 1.0 if name.endswith("LayerNorm.weight") or "layer_norm.weight" in name else noise)
    return model


def hf_outputs(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import torch

    feeds = dict(
        input_ids=torch.tensor(inputs["input_word_ids"], dtype=torch.long),
        attention_mask=torch.tensor(inputs["input_mask"], dtype=torch.long),
        token_type_ids=torch.tensor(inputs["input_type_ids"], dtype=torch.long),
    )
    with torch.no_grad():
        encoded = model.albert(**feeds)
        heads = model(**feeds)
    return {
        "sequence_output": encoded.last_hidden_state.numpy(),
        "pooled_output": encoded.pooler_output.numpy(),
        "mlm_logits": heads.prediction_logits.numpy(),
        "sop_logits": heads.sop_logits.numpy(),
    }


def hf_state(model) -> dict[str, np.ndarray]:
    return {name: tensor.detach().numpy().copy() for name, tensor in model.state_dict().items()}


def tiny_config(**overrides) -> AlbertConfig:
    return AlbertConfig(**dict(TINY_FIELDS, **overrides))
