package org.alberttf.demo.ml

import android.content.Context
import org.alberttf.core.BundleManifest
import org.alberttf.core.SentencePieceVocab
import java.io.FileNotFoundException
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * One export bundle inside the APK's assets (`assets/<dir>/`, put there by the
 * `copyAlbertBundles` Gradle task): manifest.json, spm_vocab.tsv and the model.
 * Sequence length, tensor names, special ids and normalization flags all come from
 * manifest.json.
 */
class Bundle private constructor(val dir: String, val manifest: BundleManifest, val vocab: SentencePieceVocab, val modelAsset: String) {

    val tokenizer by lazy { manifest.tokenizer(vocab) }

    /** The model memory-mapped from the (uncompressed) APK entry. */
    fun mapModel(context: Context): MappedByteBuffer =
        context.assets.openFd(modelAsset).use { fd ->
            fd.createInputStream().channel.use { it.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength) }
        }

    companion object {
        const val CLASSIFIER = "classifier"
        const val QA = "qa"

        /** Loads `assets/<dir>/`; a clear exception when the bundle was not copied in. */
        fun load(context: Context, dir: String): Bundle {
            val assets = context.assets
            val manifestJson = try {
                assets.open("$dir/manifest.json").bufferedReader().use { it.readText() }
            } catch (e: FileNotFoundException) {
                throw IllegalStateException(
                    "Model not bundled: assets/$dir/manifest.json is missing. Export a bundle with `albert export` " +
                        "and build with -Palbert.${dir}Bundle=DIR (see android_demo/README.md).", e,
                )
            }
            val manifest = BundleManifest.parse(manifestJson)
            val vocab = assets.open("$dir/spm_vocab.tsv").use { SentencePieceVocab.load(it) }
            val model = manifest.modelFile ?: assets.list(dir)?.firstOrNull { it.endsWith(".tflite") }
                ?: throw IllegalStateException("No .tflite model in assets/$dir and no model file named in manifest.json.")
            return Bundle(dir, manifest, vocab, "$dir/${model.substringAfterLast('/')}")
        }
    }
}
