package org.alberttf.core

/** A piece of the segmentation: vocabulary [id] covering `normalized[start until end]`. */
data class Token(val id: Int, val start: Int, val end: Int)

/**
 * SentencePiece's unigram segmentation (the `EncodeOptimized` Viterbi of
 * `unigram_model.cc`), on text that is already normalized (U+2581 for spaces).
 *
 * Reproduced details that change ids:
 * - candidates: NORMAL and USER_DEFINED pieces (UNUSED ones are skipped);
 * - user-defined pieces score `utf8_length * max_score - 0.1` (computed in double),
 *   where `max_score` starts at FLT_MIN, so it is about -0.1 for a log-prob vocabulary;
 * - a character with no single-character piece gets an unknown node scored
 *   `min_score - 10`; path scores are float32 sums from the start of the text;
 *   ties keep the earlier candidate (strict `>`);
 * - consecutive unknown pieces are merged into one `<unk>`; with BYTE pieces in the
 *   vocabulary (byte fallback), unknown characters become their UTF-8 byte pieces instead.
 */
class UnigramModel(val vocab: SentencePieceVocab) {
    private val candidates = HashMap<String, Int>(vocab.size * 2)
    private val maxPieceLength: Int
    private val minScore: Float
    private val maxScore: Float
    private val unkScore: Float

    init {
        var longest = 1
        var lo = Float.MAX_VALUE
        var hi = java.lang.Float.MIN_NORMAL // C's FLT_MIN, the initial value in SentencePiece
        vocab.pieces.forEachIndexed { id, p ->
            if (p.type == PieceType.NORMAL || p.type == PieceType.USER_DEFINED) {
                candidates[p.piece] = id
                longest = maxOf(longest, p.piece.length)
            }
            if (p.type == PieceType.NORMAL) {
                lo = minOf(lo, p.score)
                hi = maxOf(hi, p.score)
            }
        }
        maxPieceLength = longest
        minScore = lo
        maxScore = hi
        unkScore = minScore - 10.0f
    }

    fun encode(normalized: String): List<Token> {
        val n = normalized.length
        if (n == 0) return emptyList()
        val bestScore = FloatArray(n + 1)
        val bestStart = IntArray(n + 1) { -1 }
        val bestId = IntArray(n + 1) { -1 }
        var start = 0
        while (start < n) {
            val charLen = Character.charCount(normalized.codePointAt(start))
            val scoreHere = bestScore[start]
            var hasSingle = false
            val limit = minOf(n, start + maxPieceLength)
            for (end in start + 1..limit) {
                val id = candidates[normalized.substring(start, end)] ?: continue
                val piece = vocab.pieces[id]
                if (piece.type == PieceType.USER_DEFINED) {
                    val utf8Length = utf8Length(normalized, start, end)
                    val score: Double = (utf8Length.toFloat() * maxScore).toDouble() - 0.1
                    val candidate: Double = score + scoreHere.toDouble()
                    if (bestStart[end] == -1 || candidate > bestScore[end].toDouble()) {
                        bestScore[end] = candidate.toFloat(); bestStart[end] = start; bestId[end] = id
                    }
                } else {
                    val candidate: Float = piece.score + scoreHere
                    if (bestStart[end] == -1 || candidate > bestScore[end]) {
                        bestScore[end] = candidate; bestStart[end] = start; bestId[end] = id
                    }
                }
                if (end - start == charLen) hasSingle = true
            }
            if (!hasSingle) {
                val end = start + charLen
                val candidate: Float = unkScore + scoreHere
                if (bestStart[end] == -1 || candidate > bestScore[end]) {
                    bestScore[end] = candidate; bestStart[end] = start; bestId[end] = vocab.unkId
                }
            }
            start += charLen
        }
        val path = ArrayList<Token>()
        var end = n
        while (end > 0) {
            val s = bestStart[end]
            path.add(Token(bestId[end], s, end))
            end = s
        }
        path.reverse()
        return postProcessUnknown(normalized, path)
    }

    private fun postProcessUnknown(normalized: String, path: List<Token>): List<Token> {
        val out = ArrayList<Token>(path.size)
        for (token in path) {
            if (token.id != vocab.unkId) { out.add(token); continue }
            if (vocab.hasByteFallback) {
                val bytes = normalized.substring(token.start, token.end).toByteArray(Charsets.UTF_8)
                bytes.forEachIndexed { i, b ->
                    val id = vocab.pieceToId("<0x%02X>".format(b.toInt() and 0xFF))
                    // The last byte piece carries the character's span, the others are empty.
                    out.add(if (i == bytes.size - 1) Token(id, token.start, token.end) else Token(id, token.start, token.start))
                }
            } else if (out.isNotEmpty() && out.last().id == vocab.unkId) {
                out[out.size - 1] = Token(vocab.unkId, out.last().start, token.end)
            } else out.add(token)
        }
        return out
    }

    private fun utf8Length(s: String, start: Int, end: Int): Int {
        var bytes = 0
        var i = start
        while (i < end) {
            val cp = s.codePointAt(i)
            bytes += when {
                cp < 0x80 -> 1
                cp < 0x800 -> 2
                cp < 0x10000 -> 3
                else -> 4
            }
            i += Character.charCount(cp)
        }
        return bytes
    }
}
