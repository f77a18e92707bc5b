"""The sentence-classifier fine-tuning steps the benchmarks time: albert_tf's, KerasHub's and Hugging Face's.

What `albert finetune` runs for a classification task (the demo's sentiment classifier): the encoder,
its pooler, dropout 0.1 and a dense layer over the labels, softmax cross-entropy, AdamW with weight
decay. `dims` is the model shape (ALBERT's names); the peers' networks are built as in
pretraining_cases. Each `*_step` builds a model with random weights and returns a callable that runs
one optimizer step on the same batch and returns its loss as a Python float (which also waits for the
step to finish).
"""

from __future__ import annotations

import os
from typing import Callable

from pretraining_cases import hugging_face_config, keras_hub_backbone, torch_adamw_step

LABELS = 2
DROPOUT = 0.1  # before the output layer, as `albert finetune`'s default


def random_batch(batch: int, seq_length: int, vocab: int) -> dict:
    """The one batch every case trains on, as numpy arrays (albert_tf's feature names): sentences of
    random lengths from a fifth of `seq_length` to all of it, padded, as fine-tuning batches are."""
    import numpy as np

    rng = np.random.default_rng(0)
    lengths = rng.integers(max(2, seq_length // 5), seq_length + 1, size=batch)
    mask = (np.arange(seq_length)[None, :] < lengths[:, None]).astype("int32")
    return {
        "input_word_ids": rng.integers(5, vocab, size=(batch, seq_length)).astype("int32") * mask,
        "input_mask": mask,
        "input_type_ids": np.zeros((batch, seq_length), "int32"),
        "label": rng.integers(0, LABELS, size=(batch,)).astype("int32"),
    }


def albert_tf_classifier(config, preprocessor=None, jit_compile: bool = False):
    """albert_tf `AlbertClassifier` over `config` (an AlbertConfig), with `preprocessor` if given (text in),
    compiled as `albert finetune [--jit-compile]` compiles it, its train function made. Built from seed 0
    under the current Keras dtype policy."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from albert_tf import AlbertBackbone
    from albert_tf.optimization import create_optimizer
    from albert_tf.tasks import AlbertClassifier

    keras.utils.set_random_seed(0)
    model = AlbertClassifier(AlbertBackbone(config), LABELS, dropout=DROPOUT, preprocessor=preprocessor)
    model.compile(optimizer=create_optimizer("adamw", learning_rate=1e-4, warmup_steps=0, total_steps=10000,
                                             weight_decay=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  jit_compile=jit_compile)
    model.make_train_function()
    return model


def albert_tf_inputs(batch: int, seq_length: int, vocab: int) -> tuple:
    """`random_batch` as the (features, labels) tensors albert_tf's classifier trains on."""
    import tensorflow as tf

    data = random_batch(batch, seq_length, vocab)
    labels = tf.constant(data.pop("label"))
    return {name: tf.constant(value) for name, value in data.items()}, labels


def albert_tf_step(config, batch: int, seq_length: int, jit_compile: bool = False) -> Callable[[], float]:
    """`albert_tf_classifier`'s step on the random batch (the whole step XLA-compiled with `jit_compile`)."""
    model = albert_tf_classifier(config, jit_compile=jit_compile)
    inputs = albert_tf_inputs(batch, seq_length, config.vocab_size)

    def step() -> float:
        model.reset_metrics()
        return float(model.train_function(iter([inputs]))["loss"])

    step.model = model  # for tests: what was compiled, and how
    return step


def keras_hub_step(dims: dict, batch: int, seq_length: int) -> Callable[[], float]:
    """KerasHub `AlbertTextClassifier` (dropout 0.1), AdamW, `train_on_batch`."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import keras_hub
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras_hub.models.AlbertTextClassifier(keras_hub_backbone(dims), num_classes=LABELS, preprocessor=None,
                                                  dropout=DROPOUT)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = random_batch(batch, seq_length, dims["vocab"])
    x = {"token_ids": tf.constant(data["input_word_ids"]), "padding_mask": tf.constant(data["input_mask"]),
         "segment_ids": tf.constant(data["input_type_ids"])}
    y = tf.constant(data["label"])
    return lambda: float(model.train_on_batch(x, y, return_dict=True)["loss"])


def hugging_face_step(dims: dict, batch: int, seq_length: int) -> Callable[[], float]:
    """Hugging Face `AlbertForSequenceClassification` (PyTorch, CPU, all cores; dropout 0.1), AdamW."""
    import torch
    import transformers

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    config = hugging_face_config(dims, classifier_dropout_prob=DROPOUT, num_labels=LABELS)
    model = transformers.AlbertForSequenceClassification(config).train()
    data = {name: torch.from_numpy(value).long() for name, value in random_batch(batch, seq_length,
                                                                                 dims["vocab"]).items()}
    inputs = {"input_ids": data["input_word_ids"], "attention_mask": data["input_mask"],
              "token_type_ids": data["input_type_ids"], "labels": data["label"]}

    return torch_adamw_step(model, inputs)
