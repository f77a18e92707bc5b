"""Option groups that several `albert` subcommands share, defined once."""

from __future__ import annotations

import argparse


def add_distribution_arguments(parser: argparse.ArgumentParser, dtype_help: str | None = None,
                               default_dtype: str = "float32") -> None:
    """--strategy, --tpu, --dtype (default `default_dtype`), --jit-compile and --cpu-devices."""
    from albert_tf.training.trainer import DTYPES
    from albert_tf.training.strategy import STRATEGY_NAMES

    parser.add_argument("--strategy", choices=STRATEGY_NAMES, default="auto",
                        help="multi_worker reads TF_CONFIG; tpu takes --tpu")
    parser.add_argument("--tpu", default=None, help="TPU name or address (\"\" on a TPU VM)")
    parser.add_argument("--dtype", choices=DTYPES, default=default_dtype,
                        help=(dtype_help + "; " if dtype_help else "") + "auto: mixed_bfloat16 on a CPU with native "
                        "bfloat16 (AVX512_BF16 / AMX) or with --jit-compile on GPUs of compute capability 8.0+, "
                        "float32 elsewhere")
    parser.add_argument("--jit-compile", action="store_true", help="XLA-compile the train step")
    parser.add_argument("--cpu-devices", type=int, default=1,
                        help="split the CPU into N logical devices (to try MirroredStrategy without GPUs)")


def add_table_columns_arguments(parser: argparse.ArgumentParser) -> None:
    """The csv/tsv task's --text-column, --text-pair-column, --label-column and --labels."""
    parser.add_argument("--text-column", default=None, help="csv/tsv: header of the text")
    parser.add_argument("--text-pair-column", default=None, help="csv/tsv: header of the second text")
    parser.add_argument("--label-column", default=None, help="csv/tsv: header of the label")
    parser.add_argument("--labels", default=None,
                        help="csv/tsv: comma-separated labels in class order (default: sorted train labels)")


def parse_labels(labels: str | None) -> tuple[str, ...] | None:
    """`--labels a,b,c` as a tuple (None when not given)."""
    return tuple(label.strip() for label in labels.split(",")) if labels else None
