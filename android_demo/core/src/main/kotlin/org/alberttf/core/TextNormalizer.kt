package org.alberttf.core

import java.text.Normalizer
import java.util.concurrent.ConcurrentHashMap

/**
 * The text normalization in front of ALBERT's SentencePiece model, in two stages.
 *
 * 1. [albertPreprocess]: `albert_tf.tokenizer.normalize_text` (the original
 *    `preprocess_text`): collapse whitespace as Python's `" ".join(text.strip().split())`,
 *    "``" and "''" to '"', NFKD and drop characters with a non-zero canonical
 *    combining class (`unicodedata.combining`), lowercase.
 * 2. [sentencePieceNormalize]: what the SentencePiece model's `nmt_nfkc` normalizer
 *    does before Viterbi: NFKC, remove control characters, map whitespace-like
 *    characters to ' ', drop leading/trailing and repeated spaces, add the dummy
 *    prefix and write spaces as U+2581.
 *
 * Stage 2 uses the platform's NFKC instead of the model's precompiled character
 * map; over every assigned code point they agree except where Unicode versions
 * differ (see the tests' Unicode sweep).
 */
object TextNormalizer {
    const val SPACE_SYMBOL = '\u2581'

    /** Code points for which Python's `str.isspace()` is true (what `str.split()` splits on). */
    private val PYTHON_WHITESPACE: Set<Int> = (listOf(0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0,
        0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000) + (0x2000..0x200A)).toSet()

    fun isPythonWhitespace(cp: Int): Boolean = cp in PYTHON_WHITESPACE

    /** Python's `str.isdigit()`: decimal digits and other digits (superscripts, circled digits). */
    fun isPythonDigit(cp: Int): Boolean {
        if (Character.isDigit(cp)) return true
        val type = Character.getType(cp)
        if (type != Character.OTHER_NUMBER.toInt()) return false
        val value = Character.getNumericValue(cp)
        // Numeric_Type=Digit: single digits such as ² or ①; fractions and numbers >= 10 are not.
        return value in 0..9 && !Normalizer.normalize(String(Character.toChars(cp)), Normalizer.Form.NFKC).contains('\u2044')
    }

    /** The words of [text] split as Python's `str.split()`, with their [start, end) UTF-16 offsets. */
    fun pythonSplit(text: String): List<IntRange> {
        val words = ArrayList<IntRange>()
        var i = 0
        var start = -1
        while (i < text.length) {
            val cp = text.codePointAt(i)
            val n = Character.charCount(cp)
            if (isPythonWhitespace(cp)) {
                if (start >= 0) { words.add(start until i); start = -1 }
            } else if (start < 0) start = i
            i += n
        }
        if (start >= 0) words.add(start until text.length)
        return words
    }

    private val combiningCache = ConcurrentHashMap<Int, Boolean>()

    /**
     * `unicodedata.combining(c) != 0` for a character that is already decomposed.
     * Java has no public canonical-combining-class API, so this asks the
     * platform's normalizer: canonical ordering moves a mark with 0 < ccc < 240
     * in front of U+0345 (ccc 240, the largest value), and never moves a ccc-0 character.
     */
    fun hasCombiningClass(cp: Int): Boolean {
        if (cp < 0x300) return false
        if (cp == 0x345) return true
        return combiningCache.getOrPut(cp) {
            val probe = "\u0345" + String(Character.toChars(cp))
            Normalizer.normalize(probe, Normalizer.Form.NFD) != probe
        }
    }

    private fun isAscii(text: String): Boolean = text.all { it.code < 0x80 }

    /** Stage 1: ALBERT's `normalize_text` with the bundle's flags. */
    fun albertPreprocess(text: String, lowerCase: Boolean = true, stripAccents: Boolean = true): String {
        var s = pythonSplit(text).joinToString(" ") { text.substring(it.first, it.last + 1) }
        s = s.replace("``", "\"").replace("''", "\"")
        if (stripAccents && !isAscii(s)) {
            val decomposed = Normalizer.normalize(s, Normalizer.Form.NFKD)
            val out = StringBuilder(decomposed.length)
            var i = 0
            while (i < decomposed.length) {
                val cp = decomposed.codePointAt(i)
                if (!hasCombiningClass(cp)) out.appendCodePoint(cp)
                i += Character.charCount(cp)
            }
            s = out.toString()
        }
        if (lowerCase) s = s.lowercase() // Locale.ROOT, full case mapping (final sigma too), as str.lower()
        return s
    }

    /** Characters that `nmt_nfkc` removes. */
    private fun isNmtControl(cp: Int): Boolean =
        cp in 0x01..0x08 || cp == 0x0B || cp in 0x0E..0x1F || cp == 0x7F || cp == 0x8F || cp == 0x9F

    /** Characters that `nmt_nfkc` maps to a space. */
    private fun isNmtSpace(cp: Int): Boolean = when (cp) {
        0x09, 0x0A, 0x0C, 0x0D, 0x1680, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD -> true
        else -> cp in 0x200B..0x200F
    }

    /**
     * Stage 2: the SentencePiece normalizer (`nmt_nfkc`, remove_extra_whitespaces,
     * add_dummy_prefix, escape_whitespaces). Returns "" for text that is all whitespace.
     */
    fun sentencePieceNormalize(text: String, addDummyPrefix: Boolean = true): String {
        // Lone surrogates are not text; SentencePiece sees invalid UTF-8 there and writes U+FFFD (a space in nmt_nfkc).
        val nfkc = Normalizer.normalize(replaceLoneSurrogates(text), Normalizer.Form.NFKC)
        val out = StringBuilder(nfkc.length + 1)
        if (addDummyPrefix) out.append(SPACE_SYMBOL)
        var pendingSpace = false
        var any = false
        var i = 0
        while (i < nfkc.length) {
            val cp = nfkc.codePointAt(i)
            i += Character.charCount(cp)
            if (isNmtControl(cp)) continue
            if (cp == 0x20 || isNmtSpace(cp)) {
                pendingSpace = any
                continue
            }
            if (pendingSpace) out.append(SPACE_SYMBOL)
            pendingSpace = false
            out.appendCodePoint(cp)
            any = true
        }
        return if (any) out.toString() else ""
    }

    private fun replaceLoneSurrogates(text: String): String {
        if (text.none { it.isSurrogate() }) return text
        val out = StringBuilder(text.length)
        var i = 0
        while (i < text.length) {
            val c = text[i]
            if (c.isHighSurrogate() && i + 1 < text.length && text[i + 1].isLowSurrogate()) {
                out.append(c).append(text[i + 1]); i += 2
            } else {
                out.append(if (c.isSurrogate()) '\uFFFD' else c); i++
            }
        }
        return out.toString()
    }
}
