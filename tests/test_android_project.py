"""The Android demo (android_demo/): Gradle project structure, the bundle manifest schema, the Kotlin core.

The APK itself is not built in CI (no Android SDK, no Google Maven here). What runs:

* structure: files present, the app depends on :core, the assets copy task takes the
  bundle's files, the Gradle wrapper is committed;
* the manifest schema (export/schemas/bundle_manifest_v1.schema.json): `albert export`
  validates against it, and the Kotlin data class has exactly its fields;
* the core's JUnit tests (android_demo/core/run_jvm_tests.sh: JDK, kotlinc, Gson and
  JUnit installed when missing) on bundles that `albert export` writes in this test,
  and on golden files from the Python tokenizer. A tool that cannot be had at all
  (exit 77) is a skip with the reason; any other failure fails.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest

from export_helpers import SPM_MODEL, TINY_CLASSIFIER_FIELDS

REPO = pathlib.Path(__file__).resolve().parents[1]
DEMO = REPO / "android_demo"
APP_SRC = DEMO / "app" / "src" / "main"
CORE_SRC = DEMO / "core" / "src" / "main" / "kotlin" / "org" / "alberttf" / "core"
JVM_TESTS = DEMO / "core" / "run_jvm_tests.sh"
SCHEMA = REPO / "export" / "schemas" / "bundle_manifest_v1.schema.json"

REQUIRED = [
    "settings.gradle.kts", "build.gradle.kts", "gradle.properties", "gradle/libs.versions.toml",
    "gradle/wrapper/gradle-wrapper.properties", "gradle/wrapper/gradle-wrapper.jar", "gradlew", "gradlew.bat",
    "README.md", ".gitignore",
    "app/build.gradle.kts", "app/src/main/AndroidManifest.xml",
    "app/src/main/kotlin/org/alberttf/demo/MainActivity.kt",
    "app/src/main/kotlin/org/alberttf/demo/ui/SentimentScreen.kt",
    "app/src/main/kotlin/org/alberttf/demo/ui/QuestionAnsweringScreen.kt",
    "app/src/main/kotlin/org/alberttf/demo/ml/SentimentClassifier.kt",
    "app/src/main/kotlin/org/alberttf/demo/ml/QuestionAnswerer.kt",
    "app/src/main/kotlin/org/alberttf/demo/ml/LiteRtModel.kt",
    "app/src/main/kotlin/org/alberttf/demo/ml/Bundle.kt",
    "core/build.gradle.kts", "core/run_jvm_tests.sh", "core/tools/make_golden.py",
    "core/src/main/kotlin/org/alberttf/core/BundleManifestV1.kt",
    "core/src/main/kotlin/org/alberttf/core/ManifestReader.kt",
    "core/src/test/kotlin/org/alberttf/core/ManifestReaderTest.kt",
    "core/src/test/kotlin/org/alberttf/core/TokenizerGoldenTest.kt",
]


# --------------------------------------------------------------------------- structure

@pytest.mark.parametrize("path", REQUIRED)
def test_file_present(path):
    assert (DEMO / path).is_file(), f"android_demo/{path} is missing"


def test_gradle_wrapper_is_committed_and_runnable():
    wrapper = ["gradlew", "gradlew.bat", "gradle/wrapper/gradle-wrapper.jar"]
    ignored = subprocess.run(["git", "check-ignore", *wrapper], cwd=DEMO, capture_output=True, text=True)
    assert ignored.returncode == 1, f"the Gradle wrapper must not be git-ignored: {ignored.stdout or ignored.stderr}"
    assert os.access(DEMO / "gradlew", os.X_OK), "gradlew is not executable"
    import zipfile

    with zipfile.ZipFile(DEMO / "gradle" / "wrapper" / "gradle-wrapper.jar") as jar:
        assert "org/gradle/wrapper/GradleWrapperMain.class" in jar.namelist()
    properties = (DEMO / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    version = re.search(r"gradle-(\d+)\.(\d+)(?:\.\d+)?-bin\.zip", properties)
    assert version and (int(version.group(1)), int(version.group(2))) >= (9, 1), "AGP 9 needs Gradle >= 9.1"


def test_settings_include_app_and_core():
    settings = (DEMO / "settings.gradle.kts").read_text()
    assert 'include(":app")' in settings and 'include(":core")' in settings


def test_version_catalog_and_plugins():
    catalog = tomllib.loads((DEMO / "gradle" / "libs.versions.toml").read_text())
    libraries = {f"{v.get('group')}:{v.get('name')}" for v in catalog["libraries"].values()}
    assert {"com.google.ai.edge.litert:litert", "com.google.code.gson:gson", "junit:junit"} <= libraries
    assert int(catalog["versions"]["litert"].split(".")[0]) >= 2, "LiteRT 2.x"
    assert int(catalog["versions"]["agp"].split(".")[0]) >= 9
    plugins = {v["id"] for v in catalog["plugins"].values()}
    assert {"com.android.application", "org.jetbrains.kotlin.plugin.compose", "org.jetbrains.kotlin.jvm"} <= plugins
    app = (DEMO / "app" / "build.gradle.kts").read_text()
    for alias in ["libs.litert", "libs.plugins.android.application", "libs.plugins.kotlin.compose"]:
        assert alias in app, alias
    assert "compose = true" in app
    core = (DEMO / "core" / "build.gradle.kts").read_text()
    assert "implementation(libs.gson)" in core and "testImplementation(libs.junit)" in core


def test_app_depends_on_core_and_core_is_plain_jvm():
    app = (DEMO / "app" / "build.gradle.kts").read_text()
    assert 'implementation(project(":core"))' in app
    core = (DEMO / "core" / "build.gradle.kts").read_text()
    assert "libs.plugins.kotlin.jvm" in core and "com.android" not in core and "plugins.android" not in core
    for source in CORE_SRC.glob("*.kt"):
        assert not re.search(r"^import android", source.read_text(), re.M), f"{source.name} imports Android"


def test_json_goes_through_gson_not_a_hand_written_parser():
    assert not (CORE_SRC / "Json.kt").exists()
    sources = {p.name: p.read_text() for p in DEMO.rglob("*.kt")}
    assert "import com.google.gson.Gson" in sources["ManifestReader.kt"]
    assert not [name for name, text in sources.items() if re.search(r"\bJson\.parse\(", text)]


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
    assert '"$dir/manifest.json"' in bundle and "manifest.tokenizer.vocabFile" in bundle
    ignore = (DEMO / ".gitignore").read_text()
    assert "bundles/" in ignore and not list(DEMO.rglob("*.tflite")), "bundles and models are not committed"


def test_both_screens_run_litert_on_the_kotlin_tokenizer_ids():
    """What the sentiment screen shows (pieces) is what the model ran on: one tokenizer, no MediaPipe."""
    ml = APP_SRC / "kotlin" / "org" / "alberttf" / "demo" / "ml"
    sentiment = (ml / "SentimentClassifier.kt").read_text()
    assert "bundle.tokenizer.encode(text)" in sentiment and "BertInputs.pack(ids" in sentiment
    assert "model.run(inputs" in sentiment, "the classifier must run on the packed Kotlin ids"
    assert "pieces = (0 until inputs.mask.sum()).map { bundle.vocab.idToPiece(inputs.ids[it]) }" in sentiment
    assert "model.run(example.inputs" in (ml / "QuestionAnswerer.kt").read_text()
    app = "".join(p.read_text() for p in DEMO.rglob("*.kts")) + (DEMO / "gradle" / "libs.versions.toml").read_text()
    assert "mediapipe" not in app.lower(), "a second tokenizer (MediaPipe's) would make the shown pieces differ"
    assert "runSignature" in (ml / "LiteRtModel.kt").read_text()


def test_litert_feeds_length_adaptive_models_the_real_token_count():
    """The phone runs the [1, -1] twin (latency follows the sentence), fed `[CLS] .. [SEP]` without padding."""
    from albert_tf.export.bundle import ADAPTIVE_MODEL_FILES, ADAPTIVE_SUFFIX, MODEL_FILES

    manifest_class = (CORE_SRC / "BundleManifestV1.kt").read_text()
    assert f'const val ADAPTIVE_SUFFIX = "{ADAPTIVE_SUFFIX}"' in manifest_class, "Kotlin and Python name them alike"
    assert 'file.endsWith("$ADAPTIVE_SUFFIX.tflite")' in manifest_class
    assert all(ADAPTIVE_MODEL_FILES[q] == MODEL_FILES[q].replace(".tflite", f"{ADAPTIVE_SUFFIX}.tflite")
               for q in ADAPTIVE_MODEL_FILES)
    # deviceModel: quantization preference first, then the length-adaptive one of that quantization.
    assert ".thenBy { !it.lengthAdaptive }" in manifest_class
    lite = (APP_SRC / "kotlin" / "org" / "alberttf" / "demo" / "ml" / "LiteRtModel.kt").read_text()
    # The model decides (its input shape signature), and must agree with its file name.
    assert "getInputTensorFromSignature(" in lite and "shapeSignature()" in lite
    assert "lengthAdaptive = idsShape.last() == -1" in lite and "lengthAdaptive == bundle.model.lengthAdaptive" in lite
    assert "val fed = if (lengthAdaptive) inputs.trimmed() else inputs" in lite
    assert all(f"arrayOf(fed.{field})" in lite for field in ("ids", "mask", "segmentIds"))
    assert "arrayOf(inputs." not in lite, "padded inputs must not reach a length-adaptive model"
    inputs = (CORE_SRC / "BertInputs.kt").read_text()
    assert "fun trimmed(): BertInputs" in inputs
    assert (DEMO / "core" / "src" / "test" / "kotlin" / "org" / "alberttf" / "core" /
            "LengthAdaptiveInputsTest.kt").is_file()


def test_readme_build_command_takes_the_demo_bundle_unchanged():
    """The README's one command builds the app with the bundle `albert demo` writes, where it writes it."""
    from albert_tf.cli.main import build_parser

    default_run = build_parser().parse_args(["demo"]).output_dir
    pipeline = (REPO / "albert_tf" / "demo" / "pipeline.py").read_text()
    from albert_tf.export.publishing import BUNDLE_DIR

    moved = "albert demo moved its bundle: update the README"
    assert 'output = run / "export"' in pipeline and "bundle = output / BUNDLE_DIR" in pipeline, moved
    assert BUNDLE_DIR == "bundle", moved
    readme = (DEMO / "README.md").read_text()
    command = f"./gradlew installDebug -Palbert.classifierBundle=../{default_run}/export/bundle"
    assert command in readme, f"android_demo/README.md lacks `{command}`"
    assert "albert_tf.bundle/1" in readme and "export/schemas/bundle_manifest_v1.schema.json" in readme


# ------------------------------------------------------------------- manifest schema

_KOTLIN_CLASS_OF = {  # schema location -> Kotlin data class with exactly its fields
    (): "BundleManifestV1",
    ("inputs", "items"): "Input",
    ("outputs", "items"): "Output",
    ("models", "items"): "Model",
    ("tokenizer",): "Tokenizer",
    ("tokenizer", "properties", "special_ids"): "SpecialIds",
    ("tokenizer", "properties", "normalization"): "Normalization",
    ("files", "additionalProperties"): "FileEntry",
}


def _kotlin_data_classes() -> dict[str, dict[str, bool]]:
    """data class name -> {JSON field name: may be absent}, read from the core's Kotlin sources."""
    text = "".join(p.read_text() for p in CORE_SRC.glob("*.kt"))
    classes = {}
    for name, body in re.findall(r"data class (\w+)\((.*?)\n?\)(?: \{|\n|$)", text, re.S):
        fields = {}
        for annotations, field in re.findall(r"((?:@\w+(?:\(\"[^\"]*\"\))?\s+)*)val (\w+):", body):
            json_name = re.search(r'@SerializedName\("([^"]+)"\)', annotations)
            fields[json_name.group(1) if json_name else field] = "@MayBeAbsent" in annotations
        classes[name] = fields
    return classes


def test_kotlin_data_class_has_exactly_the_schema_fields():
    schema = json.loads(SCHEMA.read_text())
    classes = _kotlin_data_classes()
    for location, class_name in _KOTLIN_CLASS_OF.items():
        node = schema
        for key in location:
            node = node[key] if key in node else node["properties"][key]
        assert node.get("additionalProperties") is False, f"schema {'.'.join(location) or 'root'} allows extra fields"
        fields = classes.get(class_name)
        assert fields is not None, f"no Kotlin data class {class_name}"
        assert set(fields) == set(node["properties"]), (class_name, sorted(set(fields) ^ set(node["properties"])))
        optional = {name for name, absent in fields.items() if absent}
        assert optional == set(node["properties"]) - set(node["required"]), f"{class_name}: @MayBeAbsent != not required"


@pytest.fixture(scope="module")
def exported_bundles(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Bundles written by `albert export` (the CLI, in this process) from tiny untrained models."""
    if not SPM_MODEL.is_file():
        pytest.skip(f"the real ALBERT spiece.model is not at {SPM_MODEL}")
    import keras

    from albert_tf import AlbertConfig
    from albert_tf.backbone import AlbertBackbone
    from albert_tf.cli.main import main
    from albert_tf.tasks import AlbertClassifier, AlbertSpanQA

    keras.utils.set_random_seed(3)
    work = tmp_path_factory.mktemp("android_bundles")
    models = {
        "classifier": AlbertClassifier(AlbertBackbone(AlbertConfig(**TINY_CLASSIFIER_FIELDS)), num_classes=2, dropout=0.0),
        "qa": AlbertSpanQA(AlbertBackbone(AlbertConfig(**TINY_CLASSIFIER_FIELDS))),
    }
    options = {
        "classifier": ["--quantize", "none", "dynamic", "--labels", "negative,positive", "--text-model"],
        "qa": ["--quantize", "dynamic"],
    }
    bundles = {}
    for name, model in models.items():
        model.save(work / f"{name}.keras")
        out = work / f"{name}_export"
        code = main(["export", "--model", str(work / f"{name}.keras"), "--spm-model", str(SPM_MODEL),
                     "--output-dir", str(out), "--seq-length", "32", "--no-saved-model", *options[name]])
        assert code == 0
        # The app's asset directory names: classifier/, qa/.
        bundles[name] = (out / "bundle").rename(work / name)
    return bundles


def test_albert_export_writes_manifests_that_match_the_schema(exported_bundles):
    from albert_tf.export.manifest_schema import validate_manifest

    for bundle in exported_bundles.values():
        manifest = json.loads((bundle / "manifest.json").read_text())
        assert manifest["format"] == "albert_tf.bundle/1"
        validate_manifest(manifest)


@pytest.mark.parametrize("edit, field", [
    (lambda m: m.update(preset="tiny"), "preset: unknown field"),
    (lambda m: m["tokenizer"]["normalization"].update(nfkc=True), "tokenizer.normalization.nfkc: unknown field"),
    (lambda m: m["models"][0].update(sha256="00"), "models[0].sha256: unknown field"),
    (lambda m: m.pop("seq_length"), "seq_length: missing field"),
    (lambda m: m["tokenizer"]["special_ids"].pop("cls"), "tokenizer.special_ids.cls: missing field"),
    (lambda m: m.update(format="albert_tf.bundle/2"), "format: no schema for major version 2"),
    (lambda m: m.update(seq_length="32"), "seq_length: '32' is not of type 'integer'"),
])
def test_schema_rejects_with_the_field_name(exported_bundles, edit, field):
    from albert_tf.export.manifest_schema import ManifestSchemaError, validate_manifest

    manifest = json.loads((exported_bundles["classifier"] / "manifest.json").read_text())
    edited = copy.deepcopy(manifest)
    edit(edited)
    with pytest.raises(ManifestSchemaError, match=re.escape(field)):
        validate_manifest(edited)


def test_albert_export_refuses_to_write_a_manifest_off_the_schema(tmp_path, monkeypatch, exported_bundles):
    """A field added to build_manifest without a schema version fails the export and writes nothing."""
    import keras

    from albert_tf import AlbertConfig
    from albert_tf.backbone import AlbertBackbone
    from albert_tf.export import bundle as bundle_module
    from albert_tf.export.manifest_schema import ManifestSchemaError
    from albert_tf.tasks import AlbertSpanQA

    build = bundle_module.build_manifest
    monkeypatch.setattr(bundle_module, "build_manifest", lambda *a, **k: {**build(*a, **k), "preset": "tiny"})
    model = AlbertSpanQA(AlbertBackbone(AlbertConfig(**TINY_CLASSIFIER_FIELDS)))
    with pytest.raises(ManifestSchemaError, match="preset: unknown field"):
        bundle_module.export_bundle(model, SPM_MODEL, tmp_path / "bundle", seq_length=16, quantizations=("none",))
    assert not (tmp_path / "bundle").exists() and not list(tmp_path.iterdir())


# --------------------------------------------------------------------- Kotlin core

@pytest.mark.long
def test_kotlin_core_junit(exported_bundles):
    """JUnit: the Kotlin reader on manifests written above (every field; unknown, missing, major version),
    the tokenizer's ids = Python's on real text, packing, softmax, QA decoding."""
    env = dict(os.environ, PYTHON=sys.executable,
               ALBERT_TEST_BUNDLES=os.pathsep.join(str(p) for p in exported_bundles.values()))
    result = subprocess.run(["bash", str(JVM_TESTS)], cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    output = result.stdout + result.stderr
    if result.returncode == 77:
        pytest.skip("Kotlin core tests NOT RUN: " + (" | ".join(
            line for line in output.splitlines() if "SKIP" in line) or output[-2000:]))
    assert result.returncode == 0, f"run_jvm_tests.sh failed (exit {result.returncode}):\n{output[-8000:]}"
    summary = re.search(r"^OK \((\d+) tests\)$", output, re.M)
    assert summary and int(summary.group(1)) >= 19, output[-4000:]
    for name, bundle in exported_bundles.items():
        assert f"every field checked: {bundle.name} (" in output, f"the {name} manifest was not read:\n{output[-4000:]}"
    # The golden comparison really ran on the real vocabulary and real text.
    match = re.search(r"ids = Python AlbertTokenizer.encode: (\d+) texts", output)
    assert match and int(match.group(1)) >= 1500, output[-4000:]
    assert "Unicode sweep:" in output and "packed inputs = Python encode_pair" in output
    print(output)
