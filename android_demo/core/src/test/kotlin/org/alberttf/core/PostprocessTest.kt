package org.alberttf.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

/** Softmax and top-k against numpy's (golden files). */
class PostprocessTest {
    @Test
    fun softmaxAndTopKEqualNumpy() {
        val cases = Fixtures.golden.array("softmax").map { it.asJsonObject }
        for (c in cases) {
            val logits = c.array("logits").map { it.asFloat }.toFloatArray()
            val expected = c.array("probabilities").map { it.asDouble }.toDoubleArray()
            val actual = Postprocess.softmax(logits)
            assertArrayEquals("softmax(${logits.toList()})", expected, actual, 1e-9)
            val k = c.ints("top_k")
            assertArrayEquals("top-k of ${logits.toList()}", k, Postprocess.topK(actual, k.size))
        }
        assertEquals(listOf("b", "a"), Postprocess.topLabels(doubleArrayOf(0.25, 0.75), listOf("a", "b"), 2).map { it.label })
    }
}
