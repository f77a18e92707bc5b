package org.alberttf.core

import kotlin.math.exp

/** Classification post-processing. */
object Postprocess {
    /** Numerically stable softmax (max subtracted, computed in double). */
    fun softmax(logits: FloatArray): DoubleArray {
        require(logits.isNotEmpty()) { "softmax of an empty vector" }
        val max = logits.maxOrNull()!!.toDouble()
        val e = DoubleArray(logits.size) { exp(logits[it] - max) }
        val sum = e.sum()
        return DoubleArray(e.size) { e[it] / sum }
    }

    /** Indices of the [k] largest values, largest first; equal values keep index order. */
    fun topK(values: DoubleArray, k: Int): IntArray =
        values.indices.sortedWith(compareByDescending<Int> { values[it] }.thenBy { it }).take(k).toIntArray()

    /** A label with its probability, for display. */
    data class Scored(val label: String, val probability: Double)

    fun topLabels(probabilities: DoubleArray, labels: List<String>, k: Int): List<Scored> =
        topK(probabilities, k).map { Scored(labels.getOrElse(it) { "class $it" }, probabilities[it]) }
}
