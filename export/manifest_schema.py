"""The versioned schema of a bundle's `manifest.json`, and its check.

`export/schemas/bundle_manifest_vN.schema.json` (JSON Schema 2020-12) is the
one definition of manifest version N: `export_bundle` validates every manifest
against it before writing, and the Android core reads it into one Kotlin data
class per version with exactly the same fields (`BundleManifestV1`).

The version is the major number in the manifest's `format` string,
`albert_tf.bundle/<major>`. Adding, removing or renaming a field is a new
major version: a new schema file, a new `format` and a new Kotlin class.

Example:

    from albert_tf.export.manifest_schema import validate_manifest
    validate_manifest(json.loads(pathlib.Path("bundle/manifest.json").read_text()))
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from typing import Any, Mapping

import jsonschema

FORMAT_PREFIX = "albert_tf.bundle/"
SCHEMA_FILES = {1: "bundle_manifest_v1.schema.json"}
_FIX = ("the manifest is built in export/bundle.py (build_manifest); a new field is a new major version: "
        "a new export/schemas/bundle_manifest_vN.schema.json and MANIFEST_FORMAT")


class ManifestSchemaError(ValueError):
    """A manifest that does not match its schema; the message names the field."""


@functools.lru_cache(maxsize=None)
def load_schema(major: int = 1) -> dict[str, Any]:
    """The JSON Schema of manifest version `major` (package data of `albert_tf.export`)."""
    if major not in SCHEMA_FILES:
        raise ManifestSchemaError(f"format: no schema for major version {major} of {FORMAT_PREFIX}N; "
                                  f"known versions: {sorted(SCHEMA_FILES)}.")
    text = importlib.resources.files("albert_tf.export").joinpath("schemas", SCHEMA_FILES[major]).read_text("utf-8")
    return json.loads(text)


def format_major(manifest: Mapping[str, Any]) -> int:
    """The major version in `manifest["format"]` (`albert_tf.bundle/<major>`)."""
    value = manifest.get("format")
    match = re.fullmatch(re.escape(FORMAT_PREFIX) + r"(\d+)", value) if isinstance(value, str) else None
    if match is None:
        raise ManifestSchemaError(f"format: expected \"{FORMAT_PREFIX}<major>\", got {value!r}.")
    return int(match.group(1))


def validate_manifest(manifest: Mapping[str, Any]) -> None:
    """Raises ManifestSchemaError (one line naming the field) unless `manifest` matches its version's schema."""
    if not isinstance(manifest, Mapping):
        raise ManifestSchemaError(f"manifest: expected a JSON object, got {type(manifest).__name__}.")
    schema = load_schema(format_major(manifest))
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(manifest))
    if error is not None:
        raise ManifestSchemaError(f"{_describe(error)} (schema {schema['$id']}; {_FIX}).")


def _describe(error: jsonschema.ValidationError) -> str:
    """`field.path: what is wrong`, naming the missing or unknown field itself where that is the error."""
    where = _path(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, Mapping):
        missing = [name for name in error.validator_value if name not in instance]
        return "; ".join(f"{_join(where, name)}: missing field" for name in missing)
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = set(error.schema.get("properties", {}))
        unknown = sorted(name for name in instance if name not in known)
        return "; ".join(f"{_join(where, name)}: unknown field" for name in unknown)
    return f"{where or 'manifest'}: {error.message}"


def _path(parts) -> str:
    text = ""
    for part in parts:
        text = f"{text}[{part}]" if isinstance(part, int) else _join(text, str(part))
    return text


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
