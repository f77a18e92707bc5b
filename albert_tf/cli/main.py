"""The `albert` command: one entry point, one module per subcommand."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from typing import Sequence

from albert_tf.cli import convert, create_data, demo, distill, export, finetune, pretrain, summary, train_spm

# Each module exposes `add_parser(subparsers)` and `run(args) -> int`.
SUBCOMMANDS = (demo, summary, train_spm, create_data, pretrain, finetune, distill, convert, export)


def _version() -> str:
    """The installed distribution's version (the package's own when not installed)."""
    try:
        return importlib.metadata.version("albert-tf")
    except importlib.metadata.PackageNotFoundError:
        from albert_tf import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="albert",
        description="ALBERT (A Lite BERT) in TensorFlow / Keras 3. `albert COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        # Bad input: a one-line message naming the problem, no traceback.
        print(f"albert {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
