package org.alberttf.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

/** QA inputs with character offsets and best-span decoding, on the real vocabulary. */
class QuestionAnsweringTest {
    private val tokenizer get() = Fixtures.tokenizer
    private val qa by lazy { QuestionAnswering(tokenizer, 64) }
    private val n = 64

    private fun tokensOf(ex: QuestionAnswering.Example, context: String): List<Pair<Int, String>> =
        (0 until n).filter { ex.charStart[it] >= 0 }.map { it to context.substring(ex.charStart[it], ex.charEnd[it]) }

    @Test
    fun bestSpanDecoding() {
        val context = "The Eiffel Tower, completed in 1889, is 330 metres tall and stands in Paris, France."
        val ex = qa.buildExample("When was the Eiffel Tower completed?", context)
        val tokens = tokensOf(ex, context)
        fun positionOf(word: String): Int = tokens.firstOrNull { it.second == word }?.first
            ?: throw AssertionError("no context token '$word' in $tokens")
        val start = FloatArray(n) { -5f }
        val end = FloatArray(n) { -5f }
        start[positionOf("1889")] = 8f; end[positionOf("1889")] = 7f
        start[0] = 20f; end[0] = 20f                    // [CLS] and question positions are never answers
        start[3] = 20f; end[3] = 20f
        assertEquals("1889", QuestionAnswering.bestSpan(ex, start, end)!!.text)

        // A longer span: "330 metres"; a stronger end before the start must not win.
        start.fill(-5f); end.fill(-5f)
        start[positionOf("330")] = 6f
        end[positionOf("metres")] = 6f
        end[positionOf("330") - 1] = 9f
        assertEquals("330 metres", QuestionAnswering.bestSpan(ex, start, end)!!.text)

        // maxAnswerLength: "Paris, France" is out of reach at length 1, so the best single token wins.
        start.fill(-5f); end.fill(-5f)
        start[positionOf("Paris")] = 5f
        end[positionOf("France")] = 5f
        end[positionOf("Paris")] = 1f
        assertEquals("Paris, France", QuestionAnswering.bestSpan(ex, start, end, maxAnswerLength = 30)!!.text)
        assertEquals("Paris", QuestionAnswering.bestSpan(ex, start, end, maxAnswerLength = 1)!!.text)
    }

    @Test
    fun characterOffsetsThroughNormalization() {
        // Accents keep character offsets; a word whose normalization changes length maps whole.
        val context = "Le café ﬁnal coûte 3,50 € à São Paulo."
        val ex = qa.buildExample("Combien?", context)
        val texts = tokensOf(ex, context).map { it.second }
        assertTrue("tokens: $texts", texts.any { it.startsWith("caf") })
        assertTrue("ligature word maps as a whole: $texts", "ﬁnal" in texts)
        val start = FloatArray(n) { -5f }
        val end = FloatArray(n) { -5f }
        start[tokensOf(ex, context).first { it.second == "3" }.first] = 5f
        end[tokensOf(ex, context).first { it.second == "€" }.first] = 5f
        assertEquals("3,50 €", QuestionAnswering.bestSpan(ex, start, end)!!.text)
    }

    @Test
    fun truncationKeepsTheSearchInsideTheContext() {
        val ex = QuestionAnswering(tokenizer, 16).buildExample("q?", "word ".repeat(100))
        assertEquals(16, ex.inputs.ids.size)
        assertEquals("all real tokens", 16, ex.inputs.mask.sum())
        assertEquals("final [SEP] is not context", -1, ex.charStart.last())
        assertNull("empty context", QuestionAnswering.bestSpan(qa.buildExample("q?", "   "), FloatArray(n), FloatArray(n)))
    }
}
