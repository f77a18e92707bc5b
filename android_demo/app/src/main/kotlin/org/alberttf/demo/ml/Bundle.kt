package org.alberttf.demo.ml

import android.content.Context
import org.alberttf.core.BundleManifestV1
import org.alberttf.core.ManifestReader
import org.alberttf.core.SentencePieceVocab
import java.io.FileNotFoundException
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * One export bundle inside the APK's assets (`assets/<dir>/`, put there by the
 * `copyAlbertBundles` Gradle task): manifest.json, spm_vocab.tsv and the models.
 * Sequence length, tensor names, special ids, normalization flags and the model file
 * all come from manifest.json (format albert_tf.bundle/1, [BundleManifestV1]).
 */
class Bundle private constructor(val dir: String, val manifest: BundleManifestV1, val vocab: SentencePieceVocab) {

    /** The tokenizer the model was trained with: exact ALBERT preprocessing, id for id as Python. */
    val tokenizer by lazy { manifest.tokenizer(vocab) }

    /**
     * The model the phone runs: ids in, builtin ops only (dynamic-range int8 when the bundle has it),
     * length-adaptive (`*_adaptive.tflite`, fed the real token count) when the bundle has that variant.
     */
    val model: BundleManifestV1.Model = manifest.deviceModel()

    /** The model memory-mapped from the (uncompressed) APK entry. */
    fun mapModel(context: Context): MappedByteBuffer =
        context.assets.openFd("$dir/${model.file}").use { fd ->
            fd.createInputStream().channel.use { it.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength) }
        }

    companion object {
        const val CLASSIFIER = "classifier"
        const val QA = "qa"

        /** Loads `assets/<dir>/`; a clear exception when the bundle was not copied in or is not [expectedTask]. */
        fun load(context: Context, dir: String, expectedTask: String): Bundle {
            val assets = context.assets
            val manifestJson = try {
                assets.open("$dir/manifest.json").bufferedReader().use { it.readText() }
            } catch (e: FileNotFoundException) {
                throw IllegalStateException(
                    "Model not bundled: assets/$dir/manifest.json is missing. Export a bundle with `albert export` " +
                        "and build with -Palbert.${dir}Bundle=DIR (see android_demo/README.md).", e,
                )
            }
            val manifest = ManifestReader.parse(manifestJson)
            check(manifest.task == expectedTask) {
                "assets/$dir holds a '${manifest.task}' bundle; this screen needs '$expectedTask' (-Palbert.${dir}Bundle=DIR)."
            }
            val vocab = assets.open("$dir/${manifest.tokenizer.vocabFile}").use { SentencePieceVocab.load(it) }
            return Bundle(dir, manifest, vocab)
        }
    }
}
