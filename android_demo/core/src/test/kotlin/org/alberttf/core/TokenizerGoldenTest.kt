package org.alberttf.core

import com.google.gson.JsonObject
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** The Kotlin tokenizer against the Python `AlbertTokenizer`'s outputs on real text (golden files). */
class TokenizerGoldenTest {
    private val vocab get() = Fixtures.vocab
    private val tokenizer get() = Fixtures.tokenizer
    private val golden get() = Fixtures.golden
    private val records: List<JsonObject> get() = golden.array("records").map { it.asJsonObject }

    @Test
    fun vocabularyAndSpecialIds() {
        val special = golden.getAsJsonObject("special_ids")
        assertEquals(30000, vocab.size)
        assertEquals(
            SpecialIds(special["pad"].asInt, special["unk"].asInt, special["cls"].asInt, special["sep"].asInt, special["mask"].asInt),
            tokenizer.specialIds,
        )
        assertEquals("type of '('", PieceType.USER_DEFINED, vocab.pieces[vocab.pieceToId("(")].type)
        assertEquals("unknown piece id", vocab.unkId, vocab.pieceToId("no such piece"))
    }

    @Test
    fun pythonWhitespaceSet() {
        val expected = golden.ints("python_whitespace").toSet()
        val actual = (0 until 0x110000).filter { TextNormalizer.isPythonWhitespace(it) }.toSet()
        assertEquals(expected, actual)
    }

    @Test
    fun digitCommaTable() {
        val expected = golden.getAsJsonObject("digit_comma_table").entrySet().associate { (k, v) -> k.toInt() to v.ints().toList() }
        val actual = tokenizer.digitCommaTable.mapValues { it.value.toList() }
        assertEquals(expected, actual)
        println("digit-comma table: ${expected.size} pieces")
    }

    @Test
    fun truncatedPairLengths() {
        for (case in golden.array("truncated_pair_lengths")) {
            val v = case.ints()
            assertEquals("lengths for ${v.take(3)}", v[3] to v[4], BertInputs.truncatedPairLengths(v[0], v[1], v[2]))
        }
    }

    @Test
    fun normalizationEqualsPythonAndSentencePiece() {
        val bad = records.filter { tokenizer.normalize(it.string("text")) != it.string("normalized") }
        assertTrue(
            "${bad.size}/${records.size} differ, e.g. " + bad.take(3).joinToString("; ") {
                "'${it.string("text").take(60)}' -> '${tokenizer.normalize(it.string("text")).take(80)}' vs '${it.string("normalized").take(80)}'"
            },
            bad.isEmpty(),
        )
    }

    @Test
    fun idsEqualPythonEncode() {
        val bySource = LinkedHashMap<String, Int>()
        val bad = ArrayList<String>()
        var tokens = 0
        for (rec in records) {
            val text = rec.string("text")
            val expected = rec.ints("ids")
            val actual = tokenizer.encode(text)
            tokens += expected.size
            if (!expected.contentEquals(actual)) {
                val firstDiff = expected.indices.firstOrNull { it >= actual.size || expected[it] != actual[it] } ?: actual.size
                bad.add("[${rec.string("source")}] '${text.take(50)}' first diff at $firstDiff: " +
                    "python ${expected.drop(maxOf(0, firstDiff - 2)).take(5).map { vocab.idToPiece(it) }} " +
                    "kotlin ${actual.drop(maxOf(0, firstDiff - 2)).take(5).map { vocab.idToPiece(it) }}")
            } else bySource.merge(rec.string("source"), 1, Int::plus)
        }
        assertTrue("${bad.size}/${records.size} texts differ:\n  " + bad.take(10).joinToString("\n  "), bad.isEmpty())
        println("ids = Python AlbertTokenizer.encode: ${records.size} texts, $tokens tokens identical (" +
            bySource.entries.joinToString { "${it.key} ${it.value}" } + ")")
    }

    @Test
    fun packedInputsEqualPythonEncodePair() {
        var n = 0
        for (rec in records) {
            val length = rec.get("max_seq_length")?.takeIf { !it.isJsonNull }?.asInt ?: continue
            val idsB = rec.stringOrNull("text_pair")?.let { tokenizer.encode(it) }
            val packed = BertInputs.pack(tokenizer.encode(rec.string("text")), idsB, length, tokenizer.specialIds)
            val label = "'${rec.string("text").take(40)}' @ $length"
            assertArrayEquals("input_word_ids $label", rec.ints("input_word_ids"), packed.ids)
            assertArrayEquals("input_mask $label", rec.ints("input_mask"), packed.mask)
            assertArrayEquals("input_type_ids $label", rec.ints("input_type_ids"), packed.segmentIds)
            n++
        }
        assertTrue("no packed inputs in the golden file", n > 0)
        println("packed inputs = Python encode_pair: $n single and pair inputs")
    }

    @Test
    fun unicodeSweepEveryAssignedCodePoint() {
        val sweep = golden.array("unicode_sweep").map { it.asJsonObject }
        val versionDifferences = sortedSetOf<Int>()
        val unexpected = sortedSetOf<Int>()
        var points = 0
        for (rec in sweep) {
            val text = rec.string("text")
            val items = text.split(" ")
            points += items.size
            if (tokenizer.encode(text).contentEquals(rec.ints("ids"))) continue
            // Name the code points: each item is "a" + one code point, encoded alone by Python too.
            val itemIds = rec.array("item_ids")
            assertEquals("items of a chunk", items.size, itemIds.size())
            items.forEachIndexed { i, item ->
                if (tokenizer.encode(item).contentEquals(itemIds[i].ints())) return@forEachIndexed
                val cp = item.drop(1).codePointAt(0)
                // Characters newer than this JVM's Unicode tables (Python 3.11 has Unicode 14) cannot match.
                if (!Character.isDefined(cp)) versionDifferences.add(cp) else unexpected.add(cp)
            }
        }
        assertTrue(
            "code points that differ: " + unexpected.take(30).joinToString { "U+%04X %s".format(it, Character.getName(it)) },
            unexpected.isEmpty(),
        )
        println("Unicode sweep: ${sweep.size} chunks, $points code points; ${versionDifferences.size} differ only because " +
            "this JVM's Unicode is older (Java ${System.getProperty("java.version")})")
    }

    @Test
    fun edgeCases() {
        assertEquals("empty", 0, tokenizer.encode("").size)
        assertEquals("whitespace only", 0, tokenizer.encode(" \t\n\u200b ").size)
        assertEquals(listOf("▁hello", ",", "▁world", "!"), tokenizer.tokenize("Héllo, World!"))
        assertArrayEquals("lone surrogate as U+FFFD", tokenizer.encode("a\uFFFDb"), tokenizer.encode("a\uD800b"))
        assertEquals("long input tokens", 8000, tokenizer.encode("the quick brown fox ".repeat(2000)).size)
    }
}
