"""Choosing a `tf.distribute` strategy by name."""

from __future__ import annotations

import json
import os
from typing import Literal

import tensorflow as tf

StrategyName = Literal["auto", "one_device", "mirrored", "multi_worker", "tpu"]
STRATEGY_NAMES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def split_cpu(num_devices: int) -> None:
    """Splits the CPU into `num_devices` logical devices (to run MirroredStrategy
    on a CPU-only machine, e.g. in tests). Must run before any TensorFlow op."""
    if num_devices <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)
    except RuntimeError as error:
        raise ValueError(f"Cannot split the CPU into {num_devices} devices after TensorFlow started: {error}") from None


def _cluster_size_from_tf_config() -> int:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 1
    try:
        cluster = json.loads(raw).get("cluster", {})
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from None
    return sum(len(tasks) for role, tasks in cluster.items() if role in ("chief", "worker"))


def create_strategy(name: StrategyName = "auto", tpu: str | None = None) -> tf.distribute.Strategy:
    """The strategy called `name`.

    `auto` picks `tpu` when `tpu` is given, `multi_worker` when `TF_CONFIG`
    describes several workers, `mirrored` with several GPUs (or logical CPUs),
    else `one_device`. Call this first: multi-worker collectives must be
    configured before TensorFlow runs any op.

    Args:
        name: one of `STRATEGY_NAMES`.
        tpu: TPU name or address for `tpu` (`""` or `"local"` on a TPU VM).
    """
    if name not in STRATEGY_NAMES:
        raise ValueError(f"Unknown strategy {name!r}; choose one of {STRATEGY_NAMES}")
    if name == "auto":
        if tpu is not None:
            name = "tpu"
        elif _cluster_size_from_tf_config() > 1:
            name = "multi_worker"
        else:
            name = "mirrored" if len(_accelerators_or_cpus()) > 1 else "one_device"
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi_worker needs the TF_CONFIG environment variable (cluster and task).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    devices = _accelerators_or_cpus()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=[device.name for device in devices])
    return tf.distribute.OneDeviceStrategy(devices[0].name)


def _accelerators_or_cpus() -> list:
    gpus = tf.config.list_logical_devices("GPU")
    return gpus if gpus else tf.config.list_logical_devices("CPU")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the shared outputs (always, outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_id(strategy: tf.distribute.Strategy) -> str:
    """A name for this process's private output folder (`chief` or `worker-N`)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "chief"
    return f"{resolver.task_type}-{resolver.task_id}"
