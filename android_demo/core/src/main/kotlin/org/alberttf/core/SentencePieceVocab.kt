package org.alberttf.core

import java.io.File
import java.io.InputStream

/** SentencePiece piece types, as in `sentencepiece_model.proto`. */
enum class PieceType { NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE }

/** One vocabulary entry; `score` is the unigram log-probability (float32, as SentencePiece stores it). */
data class Piece(val piece: String, val score: Float, val type: PieceType)

/**
 * The SentencePiece vocabulary of the export bundle's `spm_vocab.tsv`: one line per
 * piece in id order, `piece<TAB>score<TAB>type` (type NORMAL, UNKNOWN, CONTROL,
 * USER_DEFINED, UNUSED or BYTE; a missing type column means NORMAL).
 */
class SentencePieceVocab(val pieces: List<Piece>) {
    private val idByPiece: Map<String, Int>
    val unkId: Int

    init {
        require(pieces.isNotEmpty()) { "The SentencePiece vocabulary is empty." }
        val map = HashMap<String, Int>(pieces.size * 2)
        pieces.forEachIndexed { id, p ->
            require(p.piece.isNotEmpty()) { "spm_vocab.tsv: piece $id is empty." }
            require(map.put(p.piece, id) == null) { "spm_vocab.tsv: piece '${p.piece}' (id $id) is defined twice." }
        }
        idByPiece = map
        val unknown = pieces.indices.filter { pieces[it].type == PieceType.UNKNOWN }
        require(unknown.size == 1) { "spm_vocab.tsv must have exactly one UNKNOWN piece (found ${unknown.size})." }
        unkId = unknown[0]
    }

    val size: Int get() = pieces.size

    /** The id of [piece], or [unkId] when it is not in the vocabulary (as `PieceToId`). */
    fun pieceToId(piece: String): Int = idByPiece[piece] ?: unkId

    /** The id of [piece], or null. */
    fun idOrNull(piece: String): Int? = idByPiece[piece]

    fun idToPiece(id: Int): String {
        require(id in pieces.indices) { "Token id $id is out of range for a vocabulary of $size pieces." }
        return pieces[id].piece
    }

    val hasByteFallback: Boolean by lazy { pieces.any { it.type == PieceType.BYTE } }

    companion object {
        fun parse(lines: Sequence<String>): SentencePieceVocab {
            val pieces = ArrayList<Piece>(32000)
            lines.forEachIndexed { index, raw ->
                val line = raw.removeSuffix("\r")
                if (line.isEmpty()) return@forEachIndexed
                val fields = line.split('\t')
                require(fields.size in 2..3) {
                    "spm_vocab.tsv line ${index + 1}: expected piece<TAB>score<TAB>type, got ${fields.size} field(s): '${line.take(60)}'"
                }
                val score = fields[1].toFloatOrNull()
                    ?: throw IllegalArgumentException("spm_vocab.tsv line ${index + 1}: bad score '${fields[1]}'")
                val type = if (fields.size == 3) {
                    runCatching { PieceType.valueOf(fields[2].trim().uppercase()) }.getOrElse {
                        throw IllegalArgumentException("spm_vocab.tsv line ${index + 1}: unknown piece type '${fields[2]}'")
                    }
                } else PieceType.NORMAL
                pieces.add(Piece(fields[0], score, type))
            }
            return SentencePieceVocab(pieces)
        }

        fun load(stream: InputStream): SentencePieceVocab =
            stream.bufferedReader(Charsets.UTF_8).useLines { parse(it) }

        fun load(file: File): SentencePieceVocab = file.inputStream().use { load(it) }
    }
}
