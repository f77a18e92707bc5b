package org.alberttf.core

/**
 * Extractive question answering around a span model (`start_logits`, `end_logits`
 * over the sequence): builds `[CLS] question [SEP] context [SEP]` and maps the best
 * span back to the original context text.
 *
 * The context is tokenized word by word (words as Python's `str.split()`), as
 * BERT/ALBERT SQuAD feature builders do, so every context token belongs to one word of
 * the original text. Inside a word whose normalized form has the same length as the
 * original (true for ASCII, and for accented Latin letters), token boundaries map to
 * characters one to one; otherwise a token covers its whole word.
 */
class QuestionAnswering(private val tokenizer: AlbertTokenizer, val maxSeqLength: Int) {

    /** The model inputs plus, for each sequence position, the [start, end) of its context characters (-1 outside the context). */
    class Example(val context: String, val inputs: BertInputs, val charStart: IntArray, val charEnd: IntArray)

    data class Answer(val text: String, val start: Int, val end: Int, val startPosition: Int, val endPosition: Int, val score: Float)

    fun buildExample(question: String, context: String): Example {
        val questionIds = tokenizer.encode(question)
        val contextIds = ArrayList<Int>()
        val starts = ArrayList<Int>()
        val ends = ArrayList<Int>()
        for (word in TextNormalizer.pythonSplit(context)) {
            val wordStart = word.first
            val wordEnd = word.last + 1
            val original = context.substring(wordStart, wordEnd)
            val encoding = tokenizer.encodeWithSpans(original)
            // The normalized word starts with the dummy-prefix "▁"; the rest lines up with the original when lengths match.
            val aligned = encoding.normalized.length - 1 == original.length
            for (token in encoding.tokens) {
                contextIds.add(token.id)
                if (aligned) {
                    val s = (token.start - 1).coerceIn(0, original.length)
                    val e = (token.end - 1).coerceIn(s, original.length)
                    starts.add(wordStart + s); ends.add(wordStart + e)
                } else {
                    starts.add(wordStart); ends.add(wordEnd)
                }
            }
        }
        val inputs = BertInputs.pack(questionIds, contextIds.toIntArray(), maxSeqLength, tokenizer.specialIds)
        val charStart = IntArray(maxSeqLength) { -1 }
        val charEnd = IntArray(maxSeqLength) { -1 }
        for (i in 0 until inputs.lengthB) {
            charStart[inputs.firstPositionB + i] = starts[i]
            charEnd[inputs.firstPositionB + i] = ends[i]
        }
        return Example(context, inputs, charStart, charEnd)
    }

    companion object {
        /**
         * The best span `start <= end`, `end - start + 1 <= maxAnswerLength`, both inside the
         * context, maximizing `startLogits[start] + endLogits[end]` (exhaustive search).
         * Returns null when the context is empty.
         */
        fun bestSpan(example: Example, startLogits: FloatArray, endLogits: FloatArray, maxAnswerLength: Int = 30): Answer? {
            require(startLogits.size >= example.charStart.size && endLogits.size >= example.charStart.size) {
                "Logits have ${startLogits.size}/${endLogits.size} positions, the input has ${example.charStart.size}."
            }
            require(maxAnswerLength >= 1) { "maxAnswerLength must be >= 1" }
            var best: Answer? = null
            val n = example.charStart.size
            for (s in 0 until n) {
                if (example.charStart[s] < 0) continue
                for (e in s until minOf(n, s + maxAnswerLength)) {
                    if (example.charStart[e] < 0) break
                    val score = startLogits[s] + endLogits[e]
                    if (best == null || score > best.score) {
                        val cs = example.charStart[s]
                        val ce = maxOf(cs, example.charEnd[e])
                        best = Answer(example.context.substring(cs, ce), cs, ce, s, e, score)
                    }
                }
            }
            return best
        }
    }
}
