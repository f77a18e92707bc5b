package org.alberttf.demo.ml

import android.content.Context
import org.alberttf.core.BertInputs
import org.tensorflow.lite.Interpreter

/**
 * A bundle's token-id model on LiteRT (`com.google.ai.edge.litert:litert`, Interpreter
 * API, CPU), run through its signature with the input and output names of
 * manifest.json (never by tensor position).
 */
class LiteRtModel(context: Context, private val bundle: Bundle, threads: Int = 4) : AutoCloseable {
    private val interpreter = Interpreter(bundle.mapModel(context), Interpreter.Options().setNumThreads(threads))

    init {
        check(interpreter.signatureKeys.isNotEmpty()) {
            "assets/${bundle.dir}/${bundle.model.file} has no signature; re-export the bundle with `albert export`."
        }
    }

    /** Runs the model on [inputs]; returns each named output's values (batch 1, flattened). */
    fun run(inputs: BertInputs, outputNames: List<String>): Map<String, FloatArray> {
        val m = bundle.manifest
        val outputs = outputNames.associateWith { name ->
            val shape = m.outputs.firstOrNull { it.name == name }?.shape
                ?: error("manifest.json: no output named '$name' (found ${m.outputs.map { it.name }})")
            arrayOf(FloatArray(shape.drop(1).fold(1, Int::times)))
        }
        val feeds = mapOf<String, Any>(
            m.inputName("ids") to arrayOf(inputs.ids),
            m.inputName("mask") to arrayOf(inputs.mask),
            m.inputName("segment_ids") to arrayOf(inputs.segmentIds),
        )
        interpreter.runSignature(feeds, outputs)
        return outputs.mapValues { it.value[0] }
    }

    override fun close() = interpreter.close()
}
