// Pure Kotlin/JVM module (no Android dependency): tokenizer, BERT inputs,
// softmax/top-k, QA span decoding, manifest.json reader. The app depends on it.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

// The tests are a self-contained runner (src/test/kotlin/.../CoreTests.kt, no JUnit) fed
// with golden files from tools/make_golden.py; run_jvm_tests.sh builds and runs them
// without Gradle (that is what CI does). From Gradle:
//   python core/tools/make_golden.py --spm_model spiece.model --out /tmp/golden
//   ./gradlew :core:goldenTest -Palbert.goldenDir=/tmp/golden
val goldenTest by tasks.registering(JavaExec::class) {
    group = "verification"
    description = "Runs the core's golden tests against files from tools/make_golden.py."
    classpath = sourceSets["test"].runtimeClasspath
    mainClass.set("org.alberttf.core.CoreTestsKt")
    val dir = providers.gradleProperty("albert.goldenDir")
    args(dir.orElse("missing: pass -Palbert.goldenDir=DIR").get())
}
