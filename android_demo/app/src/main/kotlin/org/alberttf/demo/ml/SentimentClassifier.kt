package org.alberttf.demo.ml

import android.content.Context
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.text.textclassifier.TextClassifier
import org.alberttf.core.Postprocess

/**
 * Sentiment through MediaPipe Tasks Text `TextClassifier`, on the exported model with
 * TFLite metadata (MediaPipe reads its tokenizer and labels from the metadata).
 * The core tokenizer is used only to show how the text is split into ALBERT pieces.
 */
class SentimentClassifier(context: Context) : AutoCloseable {
    val bundle = Bundle.load(context, Bundle.CLASSIFIER)
    private val classifier: TextClassifier = TextClassifier.createFromOptions(
        context,
        TextClassifier.TextClassifierOptions.builder()
            .setBaseOptions(BaseOptions.builder().setModelAssetPath(bundle.modelAsset).build())
            .build(),
    )

    data class Result(val labels: List<Postprocess.Scored>, val pieces: List<String>, val latencyMs: Double)

    fun classify(text: String): Result {
        val t0 = System.nanoTime()
        val result = classifier.classify(text)
        val latencyMs = (System.nanoTime() - t0) / 1e6
        val categories = result.classificationResult().classifications().firstOrNull()?.categories().orEmpty()
            .sortedBy { it.index() }
        val names = categories.map { c ->
            c.categoryName().ifEmpty { bundle.manifest.labels.getOrElse(c.index()) { "class ${c.index()}" } }
        }
        val scores = categories.map { it.score() }.toFloatArray()
        // Models exported with a "logits" output give raw scores: normalize them here.
        val probabilities = if (bundle.manifest.outputName("logits") != null && scores.isNotEmpty()) {
            Postprocess.softmax(scores)
        } else DoubleArray(scores.size) { scores[it].toDouble() }
        val labels = Postprocess.topLabels(probabilities, names, names.size)
        return Result(labels, bundle.tokenizer.tokenize(text).take(bundle.manifest.sequenceLength - 2), latencyMs)
    }

    override fun close() = classifier.close()
}
