package org.alberttf.demo.ml

import android.content.Context
import org.alberttf.core.QuestionAnswering
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter

/**
 * Extractive QA through LiteRT (`com.google.ai.edge.litert:litert`, Interpreter API on
 * the CPU) with tokenization, input packing and span decoding in Kotlin (:core).
 * Input and output tensors are looked up by the names in manifest.json.
 */
class QuestionAnswerer(context: Context) : AutoCloseable {
    val bundle = Bundle.load(context, Bundle.QA)
    private val interpreter = Interpreter(bundle.mapModel(context), Interpreter.Options().setNumThreads(4))
    private val qa = QuestionAnswering(bundle.tokenizer, bundle.manifest.sequenceLength)

    data class Result(val answer: QuestionAnswering.Answer?, val latencyMs: Double, val truncated: Boolean)

    fun answer(question: String, context: String, maxAnswerLength: Int = 30): Result {
        val t0 = System.nanoTime()
        val example = qa.buildExample(question, context)
        val m = bundle.manifest
        val length = m.sequenceLength
        val startName = m.outputName("start_logits") ?: error("manifest.json: no output with role 'start_logits'")
        val endName = m.outputName("end_logits") ?: error("manifest.json: no output with role 'end_logits'")
        val start = arrayOf(FloatArray(length))
        val end = arrayOf(FloatArray(length))
        val feeds = listOf("ids" to example.inputs.ids, "mask" to example.inputs.mask, "segment_ids" to example.inputs.segmentIds)
        if (interpreter.signatureKeys.isNotEmpty()) {
            // Signature names, as the manifest's "name" fields.
            val inputs = feeds.associate { (role, values) -> m.inputName(role) to arrayOf(values) as Any }
            interpreter.runSignature(inputs, mapOf(startName to start, endName to end))
        } else {
            // No signature: graph tensor names ("tensor_name" in the manifest, else the name itself).
            fun tensor(name: String) = m.tensorNames[name] ?: name
            val inputs = arrayOfNulls<Any>(interpreter.inputTensorCount)
            for ((role, values) in feeds) {
                val index = interpreter.getInputIndex(tensor(m.inputName(role)))
                inputs[index] = when (interpreter.getInputTensor(index).dataType()) {
                    DataType.INT64 -> arrayOf(LongArray(length) { values[it].toLong() })
                    else -> arrayOf(values)
                }
            }
            val outputs = mapOf<Int, Any>(interpreter.getOutputIndex(tensor(startName)) to start, interpreter.getOutputIndex(tensor(endName)) to end)
            interpreter.runForMultipleInputsOutputs(inputs, outputs)
        }
        val answer = QuestionAnswering.bestSpan(example, start[0], end[0], maxAnswerLength)
        val contextTokens = bundle.tokenizer.encode(context).size
        return Result(answer, (System.nanoTime() - t0) / 1e6, truncated = example.inputs.lengthB < contextTokens)
    }

    override fun close() = interpreter.close()
}
