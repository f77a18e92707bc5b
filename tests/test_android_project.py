"""Structure of the Android demo's Gradle project (android_demo/); no Android SDK needed.

The APK itself is not built in CI (no Android SDK, no Google Maven here); these checks
keep the project consistent: files present, the app depends on :core, the assets copy
task takes the bundle's files, and the manifest.json keys the app reads are documented.
"""

from __future__ import annotations

import pathlib
import re
import tomllib

import pytest

DEMO = pathlib.Path(__file__).resolve().parents[1] / "android_demo"
APP_SRC = DEMO / "app" / "src" / "main"
CORE_SRC = DEMO / "core" / "src" / "main" / "kotlin" / "org" / "alberttf" / "core"

REQUIRED = [
    "settings.gradle.kts", "build.gradle.kts", "gradle.properties", "gradle/libs.versions.toml",
    "gradle/wrapper/gradle-wrapper.properties", "README.md", ".gitignore",
    "app/build.gradle.kts", "app/src/main/AndroidManifest.xml",
    "app/src/main/kotlin/org/alberttf/demo/MainActivity.kt",
    "app/src/main/kotlin/org/alberttf/demo/ui/SentimentScreen.kt",
    "app/src/main/kotlin/org/alberttf/demo/ui/QuestionAnsweringScreen.kt",
    "app/src/main/kotlin/org/alberttf/demo/ml/SentimentClassifier.kt",
    "app/src/main/kotlin/org/alberttf/demo/ml/QuestionAnswerer.kt",
    "app/src/main/kotlin/org/alberttf/demo/ml/Bundle.kt",
    "core/build.gradle.kts", "core/run_jvm_tests.sh", "core/tools/make_golden.py",
    "core/src/test/kotlin/org/alberttf/core/CoreTests.kt",
]


@pytest.mark.parametrize("path", REQUIRED)
def test_file_present(path):
    assert (DEMO / path).is_file(), f"android_demo/{path} is missing"


def test_settings_include_app_and_core():
    settings = (DEMO / "settings.gradle.kts").read_text()
    assert 'include(":app")' in settings and 'include(":core")' in settings


def test_version_catalog_and_plugins():
    catalog = tomllib.loads((DEMO / "gradle" / "libs.versions.toml").read_text())
    libraries = {f"{v.get('group')}:{v.get('name')}" for v in catalog["libraries"].values()}
    assert "com.google.mediapipe:tasks-text" in libraries
    assert "com.google.ai.edge.litert:litert" in libraries
    assert int(catalog["versions"]["litert"].split(".")[0]) >= 2, "LiteRT 2.x"
    assert int(catalog["versions"]["agp"].split(".")[0]) >= 9
    plugins = {v["id"] for v in catalog["plugins"].values()}
    assert {"com.android.application", "org.jetbrains.kotlin.plugin.compose", "org.jetbrains.kotlin.jvm"} <= plugins
    app = (DEMO / "app" / "build.gradle.kts").read_text()
    for alias in ["libs.mediapipe.tasks.text", "libs.litert", "libs.plugins.android.application", "libs.plugins.kotlin.compose"]:
        assert alias in app, alias
    assert "compose = true" in app


def test_app_depends_on_core_and_core_is_plain_jvm():
    app = (DEMO / "app" / "build.gradle.kts").read_text()
    assert 'implementation(project(":core"))' in app
    core = (DEMO / "core" / "build.gradle.kts").read_text()
    assert "libs.plugins.kotlin.jvm" in core and "com.android" not in core and "plugins.android" not in core
    for source in CORE_SRC.glob("*.kt"):
        assert not re.search(r"^import android", source.read_text(), re.M), f"{source.name} imports Android"


def test_assets_copy_task_takes_the_bundle_layout():
    app = (DEMO / "app" / "build.gradle.kts").read_text()
    files = re.search(r"BUNDLE_FILES = listOf\(([^)]*)\)", app)
    assert files, "BUNDLE_FILES list not found"
    names = set(re.findall(r'"([^"]+)"', files.group(1)))
    assert names == {"manifest.json", "spm_vocab.tsv", "*.tflite"}
    assert "addGeneratedSourceDirectory(copyAlbertBundles" in app
    properties = (DEMO / "gradle.properties").read_text()
    assert "albert.classifierBundle=" in properties and "albert.qaBundle=" in properties
    # The app opens exactly the directories the copy task fills.
    bundle = (APP_SRC / "kotlin" / "org" / "alberttf" / "demo" / "ml" / "Bundle.kt").read_text()
    assert 'CLASSIFIER = "classifier"' in bundle and 'QA = "qa"' in bundle
    assert 'bundles.put("classifier"' in app and 'bundles.put("qa"' in app
    for name in ["manifest.json", "spm_vocab.tsv"]:
        assert f"$dir/{name}" in bundle
    ignore = (DEMO / ".gitignore").read_text()
    assert "bundles/" in ignore and not list(DEMO.rglob("*.tflite")), "bundles and models are not committed"


def _manifest_keys() -> dict[str, list[str]]:
    source = (CORE_SRC / "BundleManifest.kt").read_text()
    body = source[source.index("object Keys"):]
    return {name: re.findall(r'"([^"]+)"', values) for name, values in re.findall(r"val (\w+) = listOf\(([^)]*)\)", body)}


def test_manifest_keys_read_by_the_app_are_in_the_spec():
    keys = _manifest_keys()
    assert {"SEQUENCE_LENGTH", "INPUTS", "OUTPUTS", "SPECIAL_IDS", "NORMALIZATION", "FILES"} <= keys.keys()
    readme = (DEMO / "README.md").read_text()
    spec = readme[readme.index("## Bundle"):]
    # The documented (first) name of every key the app reads appears in the README's bundle spec.
    for name, aliases in keys.items():
        assert f"`{aliases[0]}`" in spec, f"{name}: `{aliases[0]}` is not documented in android_demo/README.md"
    # The app reads these roles from the manifest.
    app = "".join(p.read_text() for p in (APP_SRC / "kotlin").rglob("*.kt"))
    for role in ['inputName(role)', 'outputName("start_logits")', 'outputName("end_logits")', 'outputName("logits")']:
        assert role in app, role
    for role in ["ids", "mask", "segment_ids", "start_logits", "end_logits", "probabilities"]:
        assert f"`{role}`" in spec, role


def test_manifest_keys_match_the_exporter_when_present():
    """Once the export code exists, every field the app needs is written under an accepted name."""
    root = DEMO.parent
    sources = [p for p in list((root / "albert_tf").rglob("*.py")) + list((root / "export").rglob("*.py"))
               if "manifest" in p.read_text(errors="ignore") and "spm_vocab" in p.read_text(errors="ignore")]
    if not sources:
        pytest.skip("no exporter writing manifest.json + spm_vocab.tsv in the repository yet")
    text = "".join(p.read_text() for p in sources)
    missing = [name for name, aliases in _manifest_keys().items()
               if name in {"SEQUENCE_LENGTH", "INPUTS"} and not any(f'"{a}"' in text or f"'{a}'" in text for a in aliases)]
    assert not missing, f"exporter writes none of the accepted names for {missing}: {[_manifest_keys()[m] for m in missing]}"
