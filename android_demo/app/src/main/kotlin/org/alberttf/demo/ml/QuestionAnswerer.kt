package org.alberttf.demo.ml

import android.content.Context
import org.alberttf.core.QuestionAnswering

/**
 * Extractive QA on LiteRT with tokenization, input packing and span decoding in Kotlin
 * (:core). Input and output tensors are looked up by the names in manifest.json.
 */
class QuestionAnswerer(context: Context) : AutoCloseable {
    val bundle = Bundle.load(context, Bundle.QA, expectedTask = "span_qa")
    private val model = LiteRtModel(context, bundle)
    private val qa = QuestionAnswering(bundle.tokenizer, bundle.manifest.seqLength)

    data class Result(val answer: QuestionAnswering.Answer?, val latencyMs: Double, val truncated: Boolean)

    fun answer(question: String, context: String, maxAnswerLength: Int = 30): Result {
        val t0 = System.nanoTime()
        val example = qa.buildExample(question, context)
        val logits = model.run(example.inputs, listOf("start_logits", "end_logits"))
        val answer = QuestionAnswering.bestSpan(example, logits.getValue("start_logits"), logits.getValue("end_logits"), maxAnswerLength)
        val contextTokens = bundle.tokenizer.encode(context).size
        return Result(answer, (System.nanoTime() - t0) / 1e6, truncated = example.inputs.lengthB < contextTokens)
    }

    override fun close() = model.close()
}
