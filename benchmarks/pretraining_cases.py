"""The pretraining steps the benchmarks time, shared: one random batch, albert_tf's, KerasHub's and Hugging Face's steps.

`dims` is the model shape: vocab, embedding, hidden, layers, heads, intermediate (ALBERT's names).
Each `*_step` builds a model with random weights and returns a callable that runs one optimizer step on
the same batch and returns its loss as a Python float (which also waits for the step to finish).
"""

from __future__ import annotations

import os
from typing import Callable

BASE = dict(vocab=30000, embedding=128, hidden=768, layers=12, heads=12, intermediate=3072)


def random_batch(batch: int, seq_length: int, masked: int, vocab: int) -> dict:
    """The one batch every case trains on, as numpy arrays (albert_tf's feature names)."""
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(5, vocab, size=(batch, seq_length)).astype("int32")
    # Distinct positions per sequence, never the first ([CLS]) token, sorted as the data pipeline writes them.
    positions = np.stack([np.sort(rng.choice(np.arange(1, seq_length), size=masked, replace=False))
                          for _ in range(batch)]).astype("int32")
    return {
        "input_word_ids": ids,
        "input_mask": np.ones_like(ids),
        "input_type_ids": np.concatenate(
            [np.zeros((batch, seq_length // 2), "int32"), np.ones((batch, seq_length - seq_length // 2), "int32")],
            axis=1),
        "masked_lm_positions": positions,
        "masked_lm_ids": rng.integers(5, vocab, size=(batch, masked)).astype("int32"),
        "masked_lm_weights": np.ones((batch, masked), "float32"),
        "sentence_order_label": rng.integers(0, 2, size=(batch,)).astype("int32"),
    }


def albert_tf_pretrainer(config, learning_rate: float = 0.00176, jit_compile: bool = False):
    """albert_tf `AlbertPretrainer` (MLM + SOP) of `config` (an AlbertConfig) with LAMB, compiled, its
    optimizer built and its train function made: what `fit` runs.

    Built from seed 0 under the current Keras dtype policy and distribution strategy scope.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from albert_tf import AlbertBackbone
    from albert_tf.optimization import create_optimizer
    from albert_tf.pretrainer import AlbertPretrainer

    keras.utils.set_random_seed(0)
    model = AlbertPretrainer(AlbertBackbone(config))
    model.compile(optimizer=create_optimizer("lamb", learning_rate=learning_rate, warmup_steps=0, total_steps=10000),
                  jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)
    model.make_train_function()
    return model


def albert_tf_step(config, batch: int, seq_length: int, masked: int, learning_rate: float = 0.00176,
                   jit_compile: bool = False) -> Callable[[], float]:
    """`albert_tf_pretrainer`'s step on the random batch.

    `train_on_batch(features)` would hand `train_step` an (x, None, None) tuple, which AlbertPretrainer's
    `train_step` does not unpack (it expects the feature dict that `fit` passes), so the step does what
    `train_on_batch` does around the compiled function, with the dict as `fit` delivers it.
    """
    import tensorflow as tf

    model = albert_tf_pretrainer(config, learning_rate, jit_compile)
    features = {name: tf.constant(value)
                for name, value in random_batch(batch, seq_length, masked, config.vocab_size).items()}

    def step() -> float:
        model.reset_metrics()
        return float(model.train_function(iter([features]))["loss"])

    step.model = model  # for tests: what was compiled, and how
    return step


def keras_hub_backbone(dims: dict):
    """KerasHub `AlbertBackbone` of shape `dims` (one group, no dropout), from the current Keras seed."""
    import keras_hub

    return keras_hub.models.AlbertBackbone(
        vocabulary_size=dims["vocab"], num_layers=dims["layers"], num_heads=dims["heads"], num_groups=1,
        num_inner_repetitions=1, embedding_dim=dims["embedding"], hidden_dim=dims["hidden"],
        intermediate_dim=dims["intermediate"], dropout=0.0,
    )


def hugging_face_config(dims: dict, **overrides):
    """Hugging Face `AlbertConfig` of shape `dims`: gelu_new (ALBERT's tanh GELU), no dropout unless overridden."""
    import transformers

    settings = dict(
        vocab_size=dims["vocab"], embedding_size=dims["embedding"], hidden_size=dims["hidden"],
        num_hidden_layers=dims["layers"], num_attention_heads=dims["heads"], intermediate_size=dims["intermediate"],
        hidden_act="gelu_new", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0,
    )
    return transformers.AlbertConfig(**{**settings, **overrides})


def torch_adamw_step(model, inputs: dict) -> Callable[[], float]:
    """One AdamW step of a Hugging Face PyTorch `model` on `inputs` (with labels), returning its loss."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step():
        loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    return step


def keras_hub_step(dims: dict, batch: int, seq_length: int, masked: int, xla: bool = False) -> Callable[[], float]:
    """KerasHub `AlbertMaskedLM` (MLM only: KerasHub has no sentence-order head), AdamW, `train_on_batch`."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import keras_hub
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras_hub.models.AlbertMaskedLM(keras_hub_backbone(dims), preprocessor=None)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.01), jit_compile=xla)
    data = random_batch(batch, seq_length, masked, dims["vocab"])
    x = {"token_ids": tf.constant(data["input_word_ids"]), "padding_mask": tf.constant(data["input_mask"]),
         "segment_ids": tf.constant(data["input_type_ids"]), "mask_positions": tf.constant(data["masked_lm_positions"])}
    y, weights = tf.constant(data["masked_lm_ids"]), tf.constant(data["masked_lm_weights"])
    return lambda: float(model.train_on_batch(x, y, sample_weight=weights, return_dict=True)["loss"])


def hugging_face_step(dims: dict, batch: int, seq_length: int, masked: int) -> Callable[[], float]:
    """Hugging Face `AlbertForPreTraining` (PyTorch, CPU, all cores): MLM + sentence order, AdamW."""
    import torch
    import transformers

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    model = transformers.AlbertForPreTraining(hugging_face_config(dims)).train()
    data = {name: torch.from_numpy(value) for name, value in random_batch(batch, seq_length, masked,
                                                                          dims["vocab"]).items()}
    ids = data["input_word_ids"].long()
    # Full-length MLM labels: -100 (ignored) except at the masked positions.
    labels = torch.full_like(ids, -100)
    labels.scatter_(1, data["masked_lm_positions"].long(), data["masked_lm_ids"].long())
    inputs = {"input_ids": ids, "attention_mask": data["input_mask"].long(),
              "token_type_ids": data["input_type_ids"].long(), "labels": labels,
              "sentence_order_label": data["sentence_order_label"].long()}

    return torch_adamw_step(model, inputs)
