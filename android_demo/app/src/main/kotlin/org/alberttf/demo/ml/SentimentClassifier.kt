package org.alberttf.demo.ml

import android.content.Context
import org.alberttf.core.BertInputs
import org.alberttf.core.Postprocess

/**
 * Sentiment on LiteRT, fed with ids from the Kotlin tokenizer (:core): the exact ALBERT
 * preprocessing the model was trained with, id for id as the Python tokenizer. The
 * pieces shown are the ones in the model's input, `[CLS]` … `[SEP]`.
 */
class SentimentClassifier(context: Context) : AutoCloseable {
    val bundle = Bundle.load(context, Bundle.CLASSIFIER, expectedTask = "classifier")
    private val model = LiteRtModel(context, bundle)

    /** [pieces]: what the model saw; [truncated]: the text had more tokens than fit. */
    data class Result(val labels: List<Postprocess.Scored>, val pieces: List<String>, val latencyMs: Double, val truncated: Boolean)

    fun classify(text: String): Result {
        val t0 = System.nanoTime()
        val ids = bundle.tokenizer.encode(text)
        val inputs = BertInputs.pack(ids, null, bundle.manifest.seqLength, bundle.tokenizer.specialIds)
        val probabilities = model.run(inputs, listOf("probabilities")).getValue("probabilities")
        val latencyMs = (System.nanoTime() - t0) / 1e6
        val names = bundle.manifest.labels ?: probabilities.indices.map { "class $it" }
        val labels = Postprocess.topLabels(DoubleArray(probabilities.size) { probabilities[it].toDouble() }, names, names.size)
        val pieces = (0 until inputs.mask.sum()).map { bundle.vocab.idToPiece(inputs.ids[it]) }
        return Result(labels, pieces, latencyMs, truncated = inputs.lengthA < ids.size)
    }

    override fun close() = model.close()
}
