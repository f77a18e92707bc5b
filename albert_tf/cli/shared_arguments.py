"""Option groups that several `albert` subcommands share, defined once."""

from __future__ import annotations

import argparse
import math


class HelpFormatter(argparse.HelpFormatter):
    """Appends `(default: X)` to an option's help, unless the help already tells its default or there is
    none worth telling (None, False, an empty list or a suppressed default). Every subcommand uses it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or default is None or default is False or default == argparse.SUPPRESS
                or (isinstance(default, (list, tuple)) and not default)):
            return text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text  # a required positional has no default
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else "%(default)s"
        return f"{text} (default: {shown})" if text else f"(default: {shown})"


def whole_number_at_least(minimum: int):
    """An argparse type: a whole number >= `minimum` (its name in errors is argparse's `--option`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}; got {value}")
        return value

    return parse


positive_int = whole_number_at_least(1)
non_negative_int = whole_number_at_least(0)


def number_in(low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False):
    """An argparse type: a finite number between `low` and `high` (`low_open` / `high_open` exclude that
    end), e.g. `number_in(0, 1, high_open=True)` for a dropout rate in [0, 1)."""
    if high == math.inf:
        wanted = f"> {low:g}" if low_open else f">= {low:g}"
    else:
        wanted = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {wanted}; got {text!r}") from None
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            raise argparse.ArgumentTypeError(f"must be a finite number {wanted}; got {text}")
        return value

    return parse


non_negative_float = number_in(0)
positive_float = number_in(0, low_open=True)
fraction = number_in(0, 1)
dropout_rate = number_in(0, 1, high_open=True)


def add_distribution_arguments(parser: argparse.ArgumentParser, dtype_help: str | None = None,
                               default_dtype: str = "float32") -> None:
    """--strategy, --tpu, --dtype (default `default_dtype`), --jit-compile and --cpu-devices."""
    from albert_tf.training.trainer import DTYPES
    from albert_tf.training.strategy import STRATEGY_NAMES

    parser.add_argument("--strategy", choices=STRATEGY_NAMES, default="auto",
                        help="multi_worker reads TF_CONFIG; tpu takes --tpu")
    parser.add_argument("--tpu", default=None, help="TPU name or address (\"\" on a TPU VM)")
    parser.add_argument("--dtype", choices=DTYPES, default=default_dtype,
                        help=(dtype_help + "; " if dtype_help else "") + "the dtype policy; auto picks "
                        "mixed_bfloat16 on a CPU with native bfloat16 (AVX512_BF16 / AMX) or with --jit-compile on "
                        "GPUs of compute capability 8.0+, float32 elsewhere")
    parser.add_argument("--jit-compile", action="store_true", help="XLA-compile the train step")
    parser.add_argument("--cpu-devices", type=positive_int, default=1,
                        help="split the CPU into N logical devices (to try MirroredStrategy without GPUs)")


def add_table_columns_arguments(parser: argparse.ArgumentParser) -> None:
    """The csv/tsv task's --text-column, --text-pair-column, --label-column and --labels."""
    parser.add_argument("--text-column", default=None, help="csv/tsv: header of the text")
    parser.add_argument("--text-pair-column", default=None, help="csv/tsv: header of the second text")
    parser.add_argument("--label-column", default=None, help="csv/tsv: header of the label")
    parser.add_argument("--labels", default=None,
                        help="csv/tsv: comma-separated labels in class order (default: sorted train labels)")


def load_config_argument(value: str, option: str = "--config"):
    """`--config`: a bundled config name, a preset folder or a config JSON; a miss lists the names."""
    import os

    from albert_tf.presets import PRESETS, load_config

    if value.removeprefix("albert_") not in PRESETS and not os.path.exists(value):
        names = ", ".join(f"albert_{name}" for name in PRESETS)
        raise ValueError(f"{option} {value}: no such config file, preset folder or bundled config; the bundled "
                         f"configs are {names} (the albert_ prefix is optional).")
    return load_config(value)


def parse_labels(labels: str | None) -> tuple[str, ...] | None:
    """`--labels a,b,c` as a tuple (None when not given)."""
    return tuple(label.strip() for label in labels.split(",")) if labels else None
