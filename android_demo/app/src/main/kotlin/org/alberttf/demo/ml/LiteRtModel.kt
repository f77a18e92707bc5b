package org.alberttf.demo.ml

import android.content.Context
import org.alberttf.core.BertInputs
import org.tensorflow.lite.Interpreter

/**
 * A bundle's token-id model on LiteRT (`com.google.ai.edge.litert:litert`, Interpreter
 * API, CPU), run through its signature with the input and output names of
 * manifest.json (never by tensor position).
 *
 * A length-adaptive model (inputs `[1, -1]`, `*_adaptive.tflite`, which [Bundle] prefers)
 * is fed the real tokens only: `runSignature` resizes its inputs to `[1, n]` (and
 * reallocates) when n differs from the last call, and the model computes n positions
 * instead of `seq_length`. Per-token outputs (QA logits) come back with n values and are
 * padded with zeros to `seq_length`, the shape the manifest states.
 */
class LiteRtModel(context: Context, private val bundle: Bundle, threads: Int = 4) : AutoCloseable {
    private val interpreter = Interpreter(bundle.mapModel(context), Interpreter.Options().setNumThreads(threads))

    /** Whether the model's id inputs take any length: decided by the model itself, its shape signature. */
    val lengthAdaptive: Boolean

    init {
        check(interpreter.signatureKeys.isNotEmpty()) {
            "assets/${bundle.dir}/${bundle.model.file} has no signature; re-export the bundle with `albert export`."
        }
        val key = interpreter.signatureKeys[0]
        val idsShape = interpreter.getInputTensorFromSignature(bundle.manifest.inputName("ids"), key).shapeSignature()
        lengthAdaptive = idsShape.last() == -1
        check(lengthAdaptive == bundle.model.lengthAdaptive) {
            "assets/${bundle.dir}/${bundle.model.file}: input shape signature ${idsShape.toList()} does not match its " +
                "file name; re-export the bundle with `albert export`."
        }
    }

    /** Runs the model on [inputs]; returns each named output's values (batch 1, flattened). */
    fun run(inputs: BertInputs, outputNames: List<String>): Map<String, FloatArray> {
        val m = bundle.manifest
        val fed = if (lengthAdaptive) inputs.trimmed() else inputs
        val n = fed.ids.size
        val outputs = outputNames.associateWith { name ->
            val shape = m.outputs.firstOrNull { it.name == name }?.shape
                ?: error("manifest.json: no output named '$name' (found ${m.outputs.map { it.name }})")
            // Per-token outputs, [1, seq_length, ...], are [1, n, ...] on a length-adaptive model.
            val dims = shape.drop(1).mapIndexed { i, d -> if (lengthAdaptive && i == 0 && name in PER_TOKEN_OUTPUTS) n else d }
            arrayOf(FloatArray(dims.fold(1, Int::times)))
        }
        val feeds = mapOf<String, Any>(
            m.inputName("ids") to arrayOf(fed.ids),
            m.inputName("mask") to arrayOf(fed.mask),
            m.inputName("segment_ids") to arrayOf(fed.segmentIds),
        )
        interpreter.runSignature(feeds, outputs)
        return outputs.mapValues { (name, value) ->
            val size = m.outputs.first { it.name == name }.shape.drop(1).fold(1, Int::times)
            if (value[0].size == size) value[0] else value[0].copyOf(size)  // zeros after the n real positions
        }
    }

    override fun close() = interpreter.close()

    companion object {
        /** Outputs with one value (or vector) per token: their length follows the input's. */
        val PER_TOKEN_OUTPUTS = setOf("start_logits", "end_logits", "sequence_output")
    }
}
