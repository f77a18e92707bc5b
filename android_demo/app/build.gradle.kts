import org.gradle.api.file.FileSystemOperations
import javax.inject.Inject

plugins {
    alias(libs.plugins.android.application) // AGP 9: Kotlin is built in, no kotlin-android plugin
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "org.alberttf.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "org.alberttf.demo"
        minSdk = 26
        targetSdk = 36
        versionCode = 1
        versionName = "0.1"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    buildFeatures {
        compose = true
    }
    androidResources {
        // Models are memory-mapped from the APK: keep them uncompressed.
        noCompress += "tflite"
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":core"))

    implementation(platform(libs.androidx.compose.bom))
    implementation(libs.androidx.compose.ui)
    implementation(libs.androidx.compose.ui.tooling.preview)
    implementation(libs.androidx.compose.material3)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.kotlinx.coroutines.android)
    debugImplementation(libs.androidx.compose.ui.tooling)

    // Both screens: LiteRT's Interpreter on ids from the Kotlin tokenizer (:core).
    implementation(libs.litert)
}

// ---------------------------------------------------------------------------------
// Export bundles -> APK assets. Not committed: `albert export` writes a bundle
// directory (manifest.json, spm_vocab.tsv, the .tflite model, golden.json); this task
// copies what the app reads into build/generated/albertAssets/{classifier,qa}/, which
// AGP adds to every variant's assets. Bundle locations: the gradle properties
// albert.classifierBundle and albert.qaBundle (gradle.properties, or -P on the command
// line), relative to the project root.
// ---------------------------------------------------------------------------------
val BUNDLE_FILES = listOf("manifest.json", "spm_vocab.tsv", "*.tflite")

abstract class CopyAlbertBundles : DefaultTask() {
    @get:Inject abstract val files: FileSystemOperations
    /** asset directory name -> bundle directory */
    @get:Input abstract val bundles: MapProperty<String, String>
    @get:Input abstract val includes: ListProperty<String>
    @get:InputFiles @get:PathSensitive(PathSensitivity.RELATIVE) abstract val bundleFiles: ConfigurableFileCollection
    @get:OutputDirectory abstract val outputDir: DirectoryProperty

    @TaskAction
    fun copy() {
        files.sync {
            into(outputDir)
            for ((assetDir, path) in bundles.get()) {
                val dir = java.io.File(path)
                if (!java.io.File(dir, "manifest.json").isFile) {
                    logger.warn(
                        "albert: no export bundle at $dir (manifest.json missing); the '$assetDir' screen will show " +
                            "'model not bundled'. Run `albert export ...` and set -Palbert.${assetDir}Bundle=DIR.",
                    )
                    continue
                }
                from(dir) {
                    include(includes.get())
                    into(assetDir)
                }
            }
        }
    }
}

val copyAlbertBundles = tasks.register<CopyAlbertBundles>("copyAlbertBundles") {
    fun bundle(name: String) = rootProject.file(providers.gradleProperty("albert.${name}Bundle").getOrElse("bundles/$name")).path
    bundles.put("classifier", bundle("classifier"))
    bundles.put("qa", bundle("qa"))
    includes.set(BUNDLE_FILES)
    bundleFiles.from(listOf("classifier", "qa").map { name -> fileTree(bundle(name)) { include(BUNDLE_FILES) } })
    outputDir.set(layout.buildDirectory.dir("generated/albertAssets"))
}

androidComponents {
    onVariants { variant ->
        variant.sources.assets?.addGeneratedSourceDirectory(copyAlbertBundles, CopyAlbertBundles::outputDir)
    }
}
