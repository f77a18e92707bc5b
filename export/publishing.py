"""`export_model`: load a preset (or `.keras` file), build the SavedModel and the edge bundle aside, then publish.

Nothing is published until everything is built and checked: a failure (a
tokenizer that does not fit the model, an existing bundle, a conversion
error) or a kill leaves the output folder as it was. The SavedModel version
records a fingerprint of its source (`assets.extra/albert_tf_export.json`,
which TF Serving ignores), so rerunning on an unchanged model adds no
duplicate version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import shutil
import tempfile
from typing import Sequence

import keras

from albert_tf.io_utils import fault_point, load_keras_file, publish_directory
from albert_tf.export.bundle import BundleResult, export_bundle
from albert_tf.export.model_source import (labels_of, preset_settings, sequence_length_of, spm_model_of,
                                           tokenizer_options_of)
from albert_tf.export.saved_model import export_saved_model, next_version

logger = logging.getLogger(__name__)

SAVED_MODEL_DIR = "saved_model"
BUNDLE_DIR = "bundle"
FINGERPRINT_FILE = pathlib.Path("assets.extra") / "albert_tf_export.json"
_WORK_PREFIX = ".tmp-export-"


@dataclasses.dataclass(frozen=True)
class ExportRequest:
    """What to export, and where (see `albert export --help`).

    `kind` is `--task` (None: detected; a pretrainer preset exports as a backbone). `spm_model` and
    `seq_length` default to the model's own: a preset's tokenizer and sequence length.
    """

    model_path: str | os.PathLike
    output_dir: str | os.PathLike
    spm_model: str | os.PathLike | None = None
    kind: str | None = None
    seq_length: int | None = None
    quantizations: Sequence[str] = ("none", "dynamic")
    labels: Sequence[str] | None = None
    representative_texts: Sequence[str] | None = None
    text_model: bool = False
    # Also the [1, -1] variants of the fp32 / fp16 / dynamic int8 models (export_bundle's length_adaptive).
    length_adaptive: bool = True
    version: int | None = None
    saved_model: bool = True
    bundle: bool = True
    overwrite: bool = False


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """Where the SavedModel version and the bundle are (None when not asked for)."""

    saved_model: pathlib.Path | None
    saved_model_reused: bool
    bundle: BundleResult | None


def load_model_for_export(path: str | os.PathLike) -> keras.Model:
    """The model in a preset folder or a `.keras` file (without its training optimizer).

    A pretrainer preset exports as its backbone (`export_model` takes its
    tokenizer and length from the folder: `model_source.preset_settings`).
    """
    import albert_tf  # noqa: F401  (registers the layers and models for loading)
    from albert_tf.preset_format import is_preset
    from albert_tf.presets import load_preset
    from albert_tf.pretrainer import AlbertPretrainer

    path = pathlib.Path(path)
    if is_preset(path):
        model = load_preset(path)
        return model.backbone if isinstance(model, AlbertPretrainer) else model
    if path.is_dir():
        raise ValueError(f"{path} is a folder without a preset config.json; pass a preset folder (from albert "
                         "finetune, pretrain or convert) or a .keras file.")
    if not path.is_file():
        raise ValueError(f"Model not found: {path} (a preset folder, or a .keras file).")
    # compile=False: the optimizer a fine-tuned model was saved with plays no part in serving.
    return load_keras_file(path, "model to export", compile=False)


def source_fingerprint(path: str | os.PathLike, spm_bytes: bytes, seq_length: int) -> str:
    """sha256 over the model's files, its tokenizer and the serving length."""
    digest = hashlib.sha256()
    path = pathlib.Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with open(file, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    digest.update(hashlib.sha256(spm_bytes).digest())
    digest.update(str(seq_length).encode())
    return digest.hexdigest()


def export_model(request: ExportRequest) -> ExportResult:
    """Builds what `request` asks for in a work folder under `output_dir`, then renames it into place."""
    if not (request.saved_model or request.bundle):
        raise ValueError("--no-saved-model and --no-bundle together leave nothing to export.")
    # Before loading: a preset of the wrong kind is refused without reading its weights.
    spm_model, seq_length, preset_options = preset_settings(request.model_path, request.kind, request.spm_model,
                                                            request.seq_length)
    model = load_model_for_export(request.model_path)
    # The SavedModel's, the bundle's and the text model's tokenizers normalize text as the model's own did.
    tokenizer_options = tokenizer_options_of(model, preset_options)
    spm_bytes = spm_model_of(model, spm_model)
    seq_length = sequence_length_of(model, seq_length)
    labels = labels_of(model, request.labels)
    output = pathlib.Path(request.output_dir)
    if output.exists() and not output.is_dir():
        raise ValueError(f"--output-dir {output} is a file; name a folder.")
    output.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(output)
    bundle_target = output / BUNDLE_DIR
    if request.bundle and bundle_target.exists() and not request.overwrite:
        raise ValueError(f"Bundle directory {bundle_target} already exists; pass --overwrite or another "
                         "--output-dir.")
    serving_base = output / SAVED_MODEL_DIR
    fingerprint = source_fingerprint(request.model_path, spm_bytes, seq_length)
    reused = _version_with_fingerprint(serving_base, fingerprint) if request.saved_model else None
    if request.saved_model and reused is None and request.version is not None \
            and (serving_base / str(request.version)).exists():
        raise ValueError(f"SavedModel version directory {serving_base / str(request.version)} already exists; "
                         "pass another --version.")

    work = pathlib.Path(tempfile.mkdtemp(prefix=_WORK_PREFIX, dir=output))
    try:
        staged_version = None
        if request.saved_model and reused is None:
            version = request.version if request.version is not None else next_version(serving_base)
            staged_version = export_saved_model(model, work / SAVED_MODEL_DIR, spm_bytes, seq_length, version,
                                                request.kind, **tokenizer_options)
            (staged_version / FINGERPRINT_FILE).parent.mkdir(exist_ok=True)
            (staged_version / FINGERPRINT_FILE).write_text(json.dumps(
                {"source": str(pathlib.Path(request.model_path).resolve()), "sha256": fingerprint}, indent=2) + "\n")
        bundle = None
        if request.bundle:
            bundle = export_bundle(model, spm_bytes, work / BUNDLE_DIR, seq_length, request.quantizations, labels,
                                   request.representative_texts, request.text_model, request.kind,
                                   length_adaptive=request.length_adaptive, tokenizer_options=tokenizer_options)
        # Everything is built and checked: publish.
        fault_point("export:built")
        published = reused
        if staged_version is not None:
            serving_base.mkdir(exist_ok=True)
            published = serving_base / staged_version.name
            os.replace(staged_version, published)
            fault_point("export:saved-model-published")
        if bundle is not None:
            publish_directory(bundle.directory, bundle_target)
            bundle = dataclasses.replace(bundle, directory=bundle_target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if reused is not None:
        logger.info("SavedModel unchanged: version %s already serves this model", reused.name)
    return ExportResult(published if request.saved_model else None, reused is not None, bundle)


def _version_with_fingerprint(base: pathlib.Path, fingerprint: str) -> pathlib.Path | None:
    """The newest version directory whose recorded fingerprint equals `fingerprint`."""
    if not base.is_dir():
        return None
    versions = sorted((int(p.name), p) for p in base.iterdir() if p.is_dir() and p.name.isdigit())
    for _, directory in reversed(versions):
        record = directory / FINGERPRINT_FILE
        try:
            if json.loads(record.read_text()).get("sha256") == fingerprint:
                return directory
        except (OSError, ValueError):
            continue
    return None


def _remove_leftovers(output: pathlib.Path) -> None:
    """Work folders of killed exports (here and the older per-output `.tmp-*` ones)."""
    for folder in [output, output / SAVED_MODEL_DIR]:
        if folder.is_dir():
            for leftover in folder.glob(".tmp-*"):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
            for leftover in folder.glob(".old-*"):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
