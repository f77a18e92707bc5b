"""The `albert` command: one entry point, one module per subcommand."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import sys
from typing import Any, NoReturn, Sequence

from albert_tf.cli.errors import TRACEBACK_ENVIRONMENT_VARIABLE, describe_user_error
from albert_tf.cli.shared_arguments import HelpFormatter
from albert_tf.cli import convert, create_data, demo, distill, export, finetune, predict, pretrain, summary, train_spm
from albert_tf.training.cpu_kernels import onednn_hint

# Each module exposes `add_parser(subparsers)` and `run(args) -> int`; those that train set `trains=True`.
SUBCOMMANDS = (demo, summary, train_spm, create_data, pretrain, finetune, distill, convert, export, predict)


def _version() -> str:
    """The installed distribution's version (the package's own when not installed)."""
    try:
        return importlib.metadata.version("albert-tf")
    except importlib.metadata.PackageNotFoundError:
        from albert_tf.version import __version__

        return __version__


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose refusals are one line, as every other `albert` error (argparse's usage block
    would put the whole synopsis, twenty lines for finetune, above the line that matters)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (`{self.prog} --help` lists the options)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="albert",
        description="ALBERT (A Lite BERT) in TensorFlow / Keras 3. `albert COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-v", dest="log_more", action="count", default=0,
                        help="more log lines (debug); also shows TensorFlow's native log lines, which albert hides "
                             "below FATAL unless TF_CPP_MIN_LOG_LEVEL is set")
    parser.add_argument("-q", dest="log_less", action="count", default=0,
                        help="fewer log lines (-q: warnings and errors, -qq: errors)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    for subparser in subparsers.choices.values():
        # One formatter everywhere: "(default: X)" once, and only where the help does not tell it already.
        subparser.formatter_class = HelpFormatter
        # No prefix matching: `train-spm --input` would quietly be `--input-sentence-size`.
        subparser.allow_abbrev = False
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one `albert` subcommand; errors the user can fix end as one line and exit code 2."""
    args = build_parser().parse_args(argv)
    if getattr(args, "no_progress", True) is False and not _is_terminal(sys.stderr):
        # Bars only on a terminal: in a log file or a pipe they are lines of carriage returns, where the
        # commands' --no-progress log lines (one per interval) read better.
        args.no_progress = True
    configure_logging(logging.INFO + 10 * (args.log_less - args.log_more))
    library_logger = logging.getLogger("albert_tf")
    propagate = library_logger.propagate
    # The command's handler prints each line once: a dependency that configures the root logger
    # mid-command (TensorFlow Lite's converter logs through it) would print every later line again.
    library_logger.propagate = False
    try:
        return _run(args)
    finally:
        library_logger.propagate = propagate


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _run(args: argparse.Namespace) -> int:
    try:
        code = args.run(args)
    except KeyboardInterrupt:
        print(f"albert {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as error:
        # Bad input, a missing/unwritable/damaged file, or too little memory: a
        # one-line message naming the problem, no traceback. Anything else is a bug.
        message = describe_user_error(error)
        if message is None or os.environ.get(TRACEBACK_ENVIRONMENT_VARIABLE):
            raise
        print(f"albert {args.command}: error: {message}", file=sys.stderr)
        return 2
    if code == 0 and getattr(args, "trains", False):
        # Once a command's training has finished, never before a failure's one line (and once for
        # the demo's two training runs): the variable must be set before the next command starts.
        hint = onednn_hint()
        if hint:
            logging.getLogger("albert_tf.cli").info(hint)
    return code


def configure_logging(level: int) -> None:
    """Sends the library's log lines (`albert_tf.*`) at `level` and above to the current stderr."""
    logger = logging.getLogger("albert_tf")
    for handler in [h for h in logger.handlers if getattr(h, "albert_cli", False)]:
        logger.removeHandler(handler)  # main() may run again in one process (tests)
    handler = logging.StreamHandler(sys.stderr)
    handler.albert_cli = True
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(max(logging.DEBUG, min(level, logging.CRITICAL)))


if __name__ == "__main__":
    sys.exit(main())
