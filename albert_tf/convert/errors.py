"""Errors and warnings of checkpoint conversion.

Every error is a `ValueError` (the CLI turns those into exit code 2 with a
one-line message), except a missing input path, which is a
`FileNotFoundError` with the path in its message.
"""

from __future__ import annotations

from typing import Iterable, Sequence

# Long lists are cut in messages; the full list stays on the exception.
_SHOWN = 12


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    if len(names) > _SHOWN:
        shown += f", ... ({len(names) - _SHOWN} more)"
    return shown


class ConversionError(ValueError):
    """A checkpoint cannot be converted with the given config or options."""


class UnsupportedCheckpointError(ConversionError):
    """The checkpoint's layout cannot represent the requested model."""


class MissingVariablesError(ConversionError):
    """Variables the config needs are absent from the checkpoint."""

    def __init__(self, missing: Iterable[str], source: str, hint: str = ""):
        self.missing = sorted(missing)
        message = (
            f"{len(self.missing)} variable(s) that the config needs are missing from {source}: "
            f"{_listing(self.missing)}"
        )
        super().__init__(message + (f". {hint}" if hint else ""))


class ShapeMismatchError(ConversionError):
    """Checkpoint variables whose shapes disagree with the config."""

    def __init__(self, mismatches: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]], source: str):
        # mismatches: (checkpoint variable, its shape, the shape the config needs).
        self.mismatches = list(mismatches)
        described = [
            f"{name} has shape {list(found)} but the config needs {list(needed)}"
            for name, found, needed in self.mismatches
        ]
        super().__init__(
            f"{len(described)} variable(s) in {source} do not match the config: {_listing(described)}. "
            "Use the config that was saved with the checkpoint."
        )


class VocabSizeMismatchError(ShapeMismatchError):
    """The checkpoint's vocabulary size differs from the config's `vocab_size`."""

    def __init__(self, variable: str, checkpoint_vocab: int, config_vocab: int, source: str):
        self.variable = variable
        self.checkpoint_vocab = checkpoint_vocab
        self.config_vocab = config_vocab
        self.mismatches = []
        ConversionError.__init__(
            self,
            f"The checkpoint's vocabulary has {checkpoint_vocab} tokens ({variable} in {source}) but the "
            f"config says vocab_size={config_vocab}. Use the config (and SentencePiece model) that came "
            f"with the checkpoint, or set \"vocab_size\": {checkpoint_vocab} in the config.",
        )


class UnusedVariablesWarning(UserWarning):
    """Checkpoint variables that the converted model has no place for."""


def unused_message(unused: Sequence[str], source: str) -> str:
    return f"{len(unused)} variable(s) in {source} were not used: {_listing(list(unused))}"
