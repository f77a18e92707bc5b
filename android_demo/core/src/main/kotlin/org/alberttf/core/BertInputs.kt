package org.alberttf.core

/** Model inputs `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, padded to a fixed length. */
class BertInputs(
    /** `input_word_ids`: token ids, padded with the pad id. */
    val ids: IntArray,
    /** `input_mask`: 1 on real tokens, 0 on padding. */
    val mask: IntArray,
    /** `input_type_ids`: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`, 0 on padding. */
    val segmentIds: IntArray,
    /** Tokens of A and B kept after truncation (B is -1 for a single segment). */
    val lengthA: Int,
    val lengthB: Int,
) {
    /** Sequence position of the first token of segment B (valid when [lengthB] >= 0). */
    val firstPositionB: Int get() = lengthA + 2

    /** The real token count n: `[CLS] .. [SEP]`, the positions whose mask is 1 (padding follows them). */
    val realLength: Int get() = mask.count { it == 1 }

    /**
     * These inputs cut to their [realLength] tokens, without padding: what a length-adaptive
     * model (`*_adaptive.tflite`, inputs `[1, -1]`) takes. Its outputs equal the fixed-length
     * model's on the padded inputs, for a fraction of the compute.
     */
    fun trimmed(): BertInputs {
        val n = realLength
        require((0 until n).all { mask[it] == 1 }) { "mask must be 1 on the real tokens, then 0 (got ${mask.toList()})" }
        return BertInputs(ids.copyOf(n), mask.copyOf(n), segmentIds.copyOf(n), lengthA, lengthB)
    }

    companion object {
        /**
         * The lengths that the original `_truncate_seq_pair` leaves: it pops tokens from the
         * end of the longer segment (the second on ties) until `lengthA + lengthB <= budget`
         * (Python `truncated_pair_lengths`).
         */
        fun truncatedPairLengths(lengthA: Int, lengthB: Int, budget: Int): Pair<Int, Int> {
            if (lengthA + lengthB <= budget) return lengthA to lengthB
            val shorter = minOf(lengthA, lengthB)
            if (2 * shorter <= budget) {
                return if (lengthA > lengthB) (budget - lengthB) to lengthB else lengthA to (budget - lengthA)
            }
            return (budget + 1) / 2 to budget / 2
        }

        /** Python `AlbertTokenizer.pack_ids`; [idsB] null means one segment, empty means an empty second segment. */
        fun pack(idsA: IntArray, idsB: IntArray?, maxSeqLength: Int, special: SpecialIds): BertInputs {
            val minimum = if (idsB == null) 3 else 4
            require(maxSeqLength >= minimum) { "max_seq_length must be >= $minimum, got $maxSeqLength" }
            val ids = IntArray(maxSeqLength) { special.pad }
            val mask = IntArray(maxSeqLength)
            val segments = IntArray(maxSeqLength)
            val lengthA: Int
            val lengthB: Int
            if (idsB == null) {
                lengthA = minOf(idsA.size, maxSeqLength - 2)
                lengthB = -1
            } else {
                val (a, b) = truncatedPairLengths(idsA.size, idsB.size, maxSeqLength - 3)
                lengthA = a; lengthB = b
            }
            var p = 0
            ids[p++] = special.cls
            for (i in 0 until lengthA) ids[p++] = idsA[i]
            ids[p++] = special.sep
            if (idsB != null) {
                for (i in 0 until lengthB) { segments[p] = 1; ids[p++] = idsB[i] }
                segments[p] = 1; ids[p++] = special.sep
            }
            for (i in 0 until p) mask[i] = 1
            return BertInputs(ids, mask, segments, lengthA, lengthB)
        }
    }
}
