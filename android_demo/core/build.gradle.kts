// Pure Kotlin/JVM module (no Android dependency): tokenizer, BERT inputs,
// softmax/top-k, QA span decoding, manifest.json reader (Gson). The app depends on it.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(libs.gson)
    testImplementation(libs.junit)
}

// JUnit 4 tests. The golden and manifest tests read files made outside Gradle, named by
// Gradle properties (without them those tests are skipped):
//   python core/tools/make_golden.py --spm_model spiece.model --out /tmp/golden
//   ./gradlew :core:test -Palbert.goldenDir=/tmp/golden -Palbert.bundles=/path/to/bundle
// run_jvm_tests.sh does all of this without Gradle (that is what CI runs).
tasks.test {
    for (name in listOf("albert.goldenDir", "albert.bundles")) {
        providers.gradleProperty(name).orNull?.let { systemProperty(name, rootProject.file(it).path) }
    }
    testLogging { events("passed", "skipped", "failed"); showStandardStreams = true }
}
