"""What every task model shares: backbone inputs, dropout, config with the backbone."""

from __future__ import annotations

from typing import Any

import keras

from albert_tf.backbone import INPUT_NAMES, AlbertBackbone


def backbone_inputs() -> dict[str, keras.KerasTensor]:
    """The three int32 [batch, seq] inputs, named as the backbone's."""
    return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}


def head_initializer(backbone: AlbertBackbone) -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=backbone.config.initializer_range)


class TaskModel(keras.Model):
    """Base of the task models: stores the backbone and the head's arguments,
    and serializes them (the backbone as a nested Keras object)."""

    def _store(self, backbone: AlbertBackbone, **head_arguments: Any) -> None:
        self.backbone = backbone
        self._head_arguments = head_arguments
        for name, value in head_arguments.items():
            setattr(self, name, value)

    def get_config(self) -> dict[str, Any]:
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            **self._head_arguments,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
