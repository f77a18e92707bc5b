package org.alberttf.core

/** Ids of the pieces that ALBERT's inputs need, by role. */
data class SpecialIds(val pad: Int, val unk: Int, val cls: Int, val sep: Int, val mask: Int) {
    companion object {
        /** Looks the pieces up by name (`<pad>`, `<unk>`, `[CLS]`, `[SEP]`, `[MASK]`), as the Python tokenizer does. */
        fun fromVocab(vocab: SentencePieceVocab): SpecialIds {
            fun id(piece: String) = vocab.idOrNull(piece)
                ?: throw IllegalArgumentException("The vocabulary has no '$piece' piece; ALBERT needs <pad>, <unk>, [CLS], [SEP] and [MASK].")
            return SpecialIds(id("<pad>"), id("<unk>"), id("[CLS]"), id("[SEP]"), id("[MASK]"))
        }
    }
}

/**
 * ALBERT's tokenizer, id-for-id the Python `albert_tf.tokenizer.AlbertTokenizer`:
 * [TextNormalizer.albertPreprocess], SentencePiece normalization and unigram
 * Viterbi ([UnigramModel]), then the digit-comma rule of the original
 * `encode_pieces` ("▁1990," becomes "▁1990", ","), precomputed over the vocabulary.
 */
class AlbertTokenizer(
    val vocab: SentencePieceVocab,
    val lowerCase: Boolean = true,
    val stripAccents: Boolean = true,
    val splitDigitComma: Boolean = true,
    specialIds: SpecialIds? = null,
) {
    val model = UnigramModel(vocab)
    val specialIds: SpecialIds = specialIds ?: SpecialIds.fromVocab(vocab)

    /** `id -> replacement ids` for the pieces that the digit-comma rule re-splits (empty when disabled). */
    val digitCommaTable: Map<Int, IntArray> by lazy { if (splitDigitComma) buildDigitCommaTable() else emptyMap() }

    /** Both normalization stages: the string that the Viterbi segments. */
    fun normalize(text: String): String =
        TextNormalizer.sentencePieceNormalize(TextNormalizer.albertPreprocess(text, lowerCase, stripAccents))

    /** Token ids of [text], without special tokens (Python `encode`). */
    fun encode(text: String): IntArray = encodeWithSpans(text).tokens.map { it.id }.toIntArray()

    /** Pieces of [text] (Python `tokenize`). */
    fun tokenize(text: String): List<String> {
        val spans = encodeWithSpans(text)
        return spans.tokens.map { t ->
            if (t.id == vocab.unkId) spans.normalized.substring(t.start, t.end) else vocab.idToPiece(t.id)
        }
    }

    /** The normalized text and its tokens with their spans in it. */
    class Encoding(val normalized: String, val tokens: List<Token>)

    fun encodeWithSpans(text: String): Encoding {
        val normalized = normalize(text)
        val tokens = model.encode(normalized)
        if (!splitDigitComma || tokens.none { it.id in digitCommaTable }) return Encoding(normalized, tokens)
        val out = ArrayList<Token>(tokens.size + 4)
        for (token in tokens) {
            val replacement = digitCommaTable[token.id]
            if (replacement == null) { out.add(token); continue }
            // Spans of the replacement pieces: consecutive, by piece length, within the original piece's span.
            var position = token.start
            replacement.forEachIndexed { i, id ->
                val length = if (id == vocab.unkId) 1 else vocab.idToPiece(id).length
                val end = if (i == replacement.size - 1) token.end else minOf(token.end, position + length)
                out.add(Token(id, position, end))
                position = end
            }
        }
        return Encoding(normalized, out)
    }

    private fun buildDigitCommaTable(): Map<Int, IntArray> {
        val table = HashMap<Int, IntArray>()
        vocab.pieces.forEachIndexed { id, p ->
            if (p.type == PieceType.CONTROL || p.type == PieceType.UNKNOWN) return@forEachIndexed
            val piece = p.piece
            if (!piece.endsWith(",")) return@forEachIndexed
            val codePoints = piece.codePoints().toArray()
            if (codePoints.size < 2 || !TextNormalizer.isPythonDigit(codePoints[codePoints.size - 2])) return@forEachIndexed
            // SentencePiece-encode the piece without the comma and without "▁" (no ALBERT preprocessing).
            val body = piece.substring(0, piece.length - 1).replace(TextNormalizer.SPACE_SYMBOL.toString(), "")
            val normalized = TextNormalizer.sentencePieceNormalize(body)
            var pieces = model.encode(normalized).map { t ->
                if (t.id == vocab.unkId) normalized.substring(t.start, t.end) else vocab.idToPiece(t.id)
            }
            if (piece[0] != TextNormalizer.SPACE_SYMBOL && pieces.isNotEmpty() && pieces[0][0] == TextNormalizer.SPACE_SYMBOL) {
                pieces = if (pieces[0].length == 1) pieces.drop(1) else listOf(pieces[0].substring(1)) + pieces.drop(1)
            }
            table[id] = (pieces + ",").map { vocab.pieceToId(it) }.toIntArray()
        }
        return table
    }
}
