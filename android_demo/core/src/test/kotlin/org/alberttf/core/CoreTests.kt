package org.alberttf.core

import java.io.File
import kotlin.math.abs
import kotlin.system.exitProcess

/*
 * JVM tests of the core, as a self-contained runner (no JUnit needed, so CI can run
 * them with kotlinc + java only): `main(goldenDir)` runs every test, prints one line
 * each and exits 1 on any failure.
 *
 * goldenDir holds `spm_vocab.tsv` and `golden_tokenizer.json` from
 * `core/tools/make_golden.py` (the Python tokenizer's outputs on real text).
 */

class AssertionFailed(message: String) : Exception(message)

fun check(condition: Boolean, message: () -> String) { if (!condition) throw AssertionFailed(message()) }

fun <T> checkEquals(expected: T, actual: T, what: String) =
    check(expected == actual) { "$what: expected <$expected>, got <$actual>" }

fun checkThrows(what: String, messagePart: String, block: () -> Unit) {
    try { block() } catch (e: IllegalArgumentException) {
        check(e.message?.contains(messagePart) == true) { "$what: message '${e.message}' lacks '$messagePart'" }
        return
    }
    throw AssertionFailed("$what: expected IllegalArgumentException")
}

class Runner {
    private var failures = 0
    private var passed = 0

    fun test(name: String, body: () -> String?) {
        val t0 = System.nanoTime()
        try {
            val note = body()
            passed++
            println("PASS %-48s %6.0f ms%s".format(name, (System.nanoTime() - t0) / 1e6, note?.let { "  ($it)" } ?: ""))
        } catch (e: Throwable) {
            failures++
            println("FAIL %-48s %s".format(name, e.message ?: e.toString()))
            if (e !is AssertionFailed) e.printStackTrace(System.out)
        }
    }

    fun finish(): Int {
        println("${passed + failures} tests, $passed passed, $failures failed")
        return if (failures == 0) 0 else 1
    }
}

@Suppress("UNCHECKED_CAST")
fun main(args: Array<String>) {
    require(args.size == 1) { "usage: CoreTestsKt GOLDEN_DIR" }
    val dir = File(args[0])
    val r = Runner()
    val vocab = SentencePieceVocab.load(File(dir, "spm_vocab.tsv"))
    val golden = Json.parse(File(dir, "golden_tokenizer.json").readText()).asObject("golden")
    val tokenizer = AlbertTokenizer(vocab)

    r.test("vocabulary and special ids") {
        val special = golden["special_ids"].asObject("special_ids")
        checkEquals(30000, vocab.size, "vocab size")
        checkEquals(SpecialIds(special["pad"].asInt(""), special["unk"].asInt(""), special["cls"].asInt(""),
            special["sep"].asInt(""), special["mask"].asInt("")), tokenizer.specialIds, "special ids")
        checkEquals(PieceType.USER_DEFINED, vocab.pieces[vocab.pieceToId("(")].type, "type of '('")
        checkEquals(vocab.unkId, vocab.pieceToId("no such piece"), "unknown piece id")
        null
    }

    r.test("Python str.isspace() set") {
        val expected = golden["python_whitespace"].asIntArray("python_whitespace").toSet()
        val actual = (0 until 0x110000).filter { TextNormalizer.isPythonWhitespace(it) }.toSet()
        checkEquals(expected, actual, "whitespace code points")
        "${expected.size} code points"
    }

    r.test("digit-comma table") {
        val expected = golden["digit_comma_table"].asObject("digit_comma_table")
            .map { (k, v) -> k.toInt() to v.asIntArray(k).toList() }.toMap()
        val actual = tokenizer.digitCommaTable.mapValues { it.value.toList() }
        checkEquals(expected.keys, actual.keys, "re-split pieces")
        for ((id, ids) in expected) checkEquals(ids, actual[id], "replacement of ${vocab.idToPiece(id)}")
        "${expected.size} pieces"
    }

    r.test("truncated_pair_lengths") {
        val cases = golden["truncated_pair_lengths"].asList("cases")
        for (c in cases) {
            val v = c.asIntArray("case")
            checkEquals(v[3] to v[4], BertInputs.truncatedPairLengths(v[0], v[1], v[2]), "lengths for ${v.take(3)}")
        }
        "${cases.size} cases"
    }

    val records = golden["records"].asList("records").map { it.asObject("record") }
    r.test("normalization = Python + sentencepiece") {
        val bad = records.filter { tokenizer.normalize(it["text"] as String) != it["normalized"] }
        check(bad.isEmpty()) {
            "${bad.size}/${records.size} differ, e.g. " + bad.take(3).joinToString("; ") {
                "'${(it["text"] as String).take(60)}' -> '${tokenizer.normalize(it["text"] as String).take(80)}' vs '${(it["normalized"] as String).take(80)}'"
            }
        }
        "${records.size} texts"
    }

    r.test("ids = Python AlbertTokenizer.encode") {
        val bySource = LinkedHashMap<String, Int>()
        val bad = ArrayList<String>()
        var tokens = 0
        for (rec in records) {
            val text = rec["text"] as String
            val expected = rec["ids"].asIntArray("ids")
            val actual = tokenizer.encode(text)
            tokens += expected.size
            if (!expected.contentEquals(actual)) {
                val firstDiff = expected.indices.firstOrNull { it >= actual.size || expected[it] != actual[it] } ?: actual.size
                bad.add("[${rec["source"]}] '${text.take(50)}' first diff at $firstDiff: " +
                    "python ${expected.drop(maxOf(0, firstDiff - 2)).take(5).map { vocab.idToPiece(it) }} " +
                    "kotlin ${actual.drop(maxOf(0, firstDiff - 2)).take(5).map { vocab.idToPiece(it) }}")
            } else bySource[rec["source"] as String] = (bySource[rec["source"] as String] ?: 0) + 1
        }
        check(bad.isEmpty()) { "${bad.size}/${records.size} texts differ:\n  " + bad.take(10).joinToString("\n  ") }
        "${records.size} texts, $tokens tokens identical: " + bySource.entries.joinToString { "${it.key} ${it.value}" }
    }

    r.test("packed inputs = Python encode_pair") {
        var n = 0
        for (rec in records) {
            val length = (rec["max_seq_length"] ?: continue).asInt("max_seq_length")
            val idsA = tokenizer.encode(rec["text"] as String)
            val idsB = (rec["text_pair"] as String?)?.let { tokenizer.encode(it) }
            val packed = BertInputs.pack(idsA, idsB, length, tokenizer.specialIds)
            val label = "'${(rec["text"] as String).take(40)}' @ $length"
            checkEquals(rec["input_word_ids"].asIntArray("").toList(), packed.ids.toList(), "input_word_ids $label")
            checkEquals(rec["input_mask"].asIntArray("").toList(), packed.mask.toList(), "input_mask $label")
            checkEquals(rec["input_type_ids"].asIntArray("").toList(), packed.segmentIds.toList(), "input_type_ids $label")
            n++
        }
        "$n single and pair inputs"
    }

    r.test("Unicode sweep (every assigned code point)") {
        val sweep = golden["unicode_sweep"].asList("unicode_sweep").map { it.asObject("sweep") }
        val versionDifferences = sortedSetOf<Int>()
        val unexpected = sortedSetOf<Int>()
        var badChunks = 0
        var points = 0
        for (rec in sweep) {
            val text = rec["text"] as String
            val items = text.split(" ")
            points += items.size
            if (tokenizer.encode(text).contentEquals(rec["ids"].asIntArray("ids"))) continue
            badChunks++
            // Name the code points: each item is "a" + one code point, encoded alone by Python too.
            val itemIds = rec["item_ids"].asList("item_ids")
            checkEquals(items.size, itemIds.size, "items of a chunk")
            items.forEachIndexed { i, item ->
                if (tokenizer.encode(item).contentEquals(itemIds[i].asIntArray("item"))) return@forEachIndexed
                val cp = item.drop(1).codePointAt(0)
                // Characters newer than this JVM's Unicode tables (Python 3.11 has Unicode 14) cannot match.
                if (!Character.isDefined(cp) || cp in KNOWN_UNICODE_DIFFERENCES) versionDifferences.add(cp) else unexpected.add(cp)
            }
        }
        check(unexpected.isEmpty()) {
            "$badChunks chunks differ; code points: " + unexpected.take(30).joinToString { "U+%04X %s".format(it, Character.getName(it)) }
        }
        "${sweep.size} chunks, $points code points; ${versionDifferences.size} differ only because this JVM's Unicode is older" +
            " (Java ${System.getProperty("java.version")})"
    }

    r.test("softmax and top-k = numpy") {
        val cases = golden["softmax"].asList("softmax").map { it.asObject("case") }
        for (c in cases) {
            val logits = c["logits"].asList("logits").map { it.asDouble("logit").toFloat() }.toFloatArray()
            val expected = c["probabilities"].asList("p").map { it.asDouble("p") }
            val actual = Postprocess.softmax(logits)
            for (i in expected.indices) check(abs(expected[i] - actual[i]) < 1e-9) { "softmax(${logits.toList()})[$i]: ${expected[i]} vs ${actual[i]}" }
            val k = c["top_k"].asIntArray("top_k")
            checkEquals(k.toList(), Postprocess.topK(actual, k.size).toList(), "top-k of ${logits.toList()}")
        }
        "${cases.size} cases"
    }

    r.test("QA span decoding") {
        val qa = QuestionAnswering(tokenizer, 64)
        val context = "The Eiffel Tower, completed in 1889, is 330 metres tall and stands in Paris, France."
        val ex = qa.buildExample("When was the Eiffel Tower completed?", context)
        val contextTokens = (0 until qa.maxSeqLength).filter { ex.charStart[it] >= 0 }
            .map { it to context.substring(ex.charStart[it], ex.charEnd[it]) }
        fun positionOf(word: String): Int = contextTokens.firstOrNull { it.second == word }?.first
            ?: throw AssertionFailed("no context token '$word' in $contextTokens")
        val n = qa.maxSeqLength
        val start = FloatArray(n) { -5f }
        val end = FloatArray(n) { -5f }
        val p1889 = positionOf("1889")
        start[p1889] = 8f; end[p1889] = 7f
        start[0] = 20f; end[0] = 20f                    // [CLS] and question positions are never answers
        start[3] = 20f; end[3] = 20f
        val answer = QuestionAnswering.bestSpan(ex, start, end)!!
        checkEquals("1889", answer.text, "answer")

        // A longer span: "330 metres"; a stronger end before the start must not win.
        start.fill(-5f); end.fill(-5f)
        start[positionOf("330")] = 6f
        end[positionOf("metres")] = 6f
        end[positionOf("330") - 1] = 9f
        checkEquals("330 metres", QuestionAnswering.bestSpan(ex, start, end)!!.text, "span answer")

        // maxAnswerLength: "Paris, France" is out of reach at length 1, so the best single token wins.
        start.fill(-5f); end.fill(-5f)
        start[positionOf("Paris")] = 5f
        end[positionOf("France")] = 5f
        end[positionOf("Paris")] = 1f
        checkEquals("Paris, France", QuestionAnswering.bestSpan(ex, start, end, maxAnswerLength = 30)!!.text, "long span")
        checkEquals("Paris", QuestionAnswering.bestSpan(ex, start, end, maxAnswerLength = 1)!!.text, "max length 1")

        // Accents keep character offsets; a word whose normalization changes length maps whole.
        val context2 = "Le café ﬁnal coûte 3,50 € à São Paulo."
        val ex2 = qa.buildExample("Combien?", context2)
        val texts = (0 until n).filter { ex2.charStart[it] >= 0 }.map { context2.substring(ex2.charStart[it], ex2.charEnd[it]) }
        check("café" in texts.joinToString("") || texts.any { it.startsWith("caf") }) { "tokens of context2: $texts" }
        check(texts.contains("ﬁnal")) { "ligature word maps as a whole: $texts" }
        val s2 = FloatArray(n) { -5f }
        val e2 = FloatArray(n) { -5f }
        val i3 = (0 until n).first { ex2.charStart[it] >= 0 && context2.substring(ex2.charStart[it], ex2.charEnd[it]) == "3" }
        s2[i3] = 5f
        e2[(0 until n).first { ex2.charStart[it] >= 0 && context2.substring(ex2.charStart[it], ex2.charEnd[it]) == "€" }] = 5f
        checkEquals("3,50 €", QuestionAnswering.bestSpan(ex2, s2, e2)!!.text, "answer with digits and symbol")

        // Truncation: a long context is cut to fit, and the answer search stays inside it.
        val ex3 = QuestionAnswering(tokenizer, 16).buildExample("q?", "word ".repeat(100))
        checkEquals(16, ex3.inputs.ids.size, "length")
        checkEquals(16, ex3.inputs.mask.sum(), "all real tokens")
        check(ex3.charStart.last() == -1) { "final [SEP] is not context" }
        checkEquals(null, QuestionAnswering.bestSpan(qa.buildExample("q?", "   "), FloatArray(n), FloatArray(n)), "empty context")
        "p(1889)=$p1889; ${texts.size} context tokens in ex2"
    }

    r.test("manifest.json reader") {
        val m = BundleManifest.parse("""
            {"format_version": 1, "sequence_length": 128,
             "inputs": {"ids": "serving_default_input_word_ids:0", "mask": "serving_default_input_mask:0", "segment_ids": "serving_default_input_type_ids:0"},
             "outputs": {"probabilities": "StatefulPartitionedCall:0"},
             "special_ids": {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4},
             "normalization": {"lowercase": true, "strip_accents": false, "split_digit_comma": true},
             "labels": ["negative", "positive"],
             "files": {"model.tflite": {"sha256": "ab"}, "spm_vocab.tsv": {"sha256": "cd"}}}""")
        checkEquals(128, m.sequenceLength, "length")
        checkEquals("serving_default_input_type_ids:0", m.inputName("segment_ids"), "segment input")
        checkEquals("StatefulPartitionedCall:0", m.outputName("probabilities"), "output")
        checkEquals(false, m.stripAccents, "strip_accents")
        checkEquals("model.tflite", m.modelFile, "model file")
        checkEquals(listOf("negative", "positive"), m.labels, "labels")
        checkEquals(tokenizer.specialIds, m.specialIds(vocab), "special ids")

        // Other layouts: a list with roles, nested under "model", alias names.
        val m2 = BundleManifest.parse("""
            {"model": {"max_seq_length": 64, "inputs": [
                {"name": "input_word_ids", "role": "input_word_ids", "dtype": "int32"},
                {"name": "input_mask", "role": "input_mask"}, {"name": "input_type_ids", "role": "input_type_ids"}],
              "outputs": [{"name": "start_logits", "role": "start_logits"}, {"name": "end_logits", "role": "end_logits"}]},
             "files": [{"path": "qa.tflite", "sha256": "00"}]}""")
        checkEquals(64, m2.sequenceLength, "nested length")
        checkEquals("input_word_ids", m2.inputName("ids"), "ids by alias role")
        checkEquals("end_logits", m2.outputName("end_logits"), "QA output")
        checkEquals(true, m2.lowerCase, "default flag")
        checkEquals("qa.tflite", m2.modelFile, "model from files")
        checkEquals(tokenizer.specialIds, m2.specialIds(vocab), "special ids from the vocabulary")

        // The layout of albert_tf's exporter (export/bundle.py): inputs as a list with signature
        // "name", graph "tensor_name" and "metadata_name"; flags and special ids under "tokenizer";
        // the model in "models" (a "spm.model" under "tokenizer" must not be taken for it).
        val m3 = BundleManifest.parse("""
            {"format": 1, "task": "qa", "seq_length": 384, "labels": null,
             "inputs": [
               {"name": "input_word_ids", "tensor_name": "serving_default_input_word_ids:0", "metadata_name": "ids", "role": "piece ids", "dtype": "int32"},
               {"name": "input_mask", "tensor_name": "serving_default_input_mask:0", "metadata_name": "mask", "role": "1 on real tokens"},
               {"name": "input_type_ids", "tensor_name": "serving_default_input_type_ids:0", "metadata_name": "segment_ids", "role": "segments"}],
             "outputs": [{"name": "start_logits", "dtype": "float32"}, {"name": "end_logits", "dtype": "float32"}],
             "models": [{"file": "model_text.tflite", "input": "text"}, {"file": "model_fp32.tflite", "input": "ids"}],
             "tokenizer": {"model_file": "spm.model", "vocab_file": "spm_vocab.tsv",
               "special_ids": {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4},
               "normalization": {"strip_accents": false, "lower_case": true, "split_digit_comma": true}},
             "files": {"model_fp32.tflite": {"sha256": "00", "bytes": 1}, "spm.model": {"sha256": "11", "bytes": 1}}}""")
        checkEquals(384, m3.sequenceLength, "seq_length")
        checkEquals("input_type_ids", m3.inputName("segment_ids"), "segment input by metadata_name")
        checkEquals("serving_default_input_word_ids:0", m3.tensorNames["input_word_ids"], "tensor name")
        checkEquals("end_logits", m3.outputName("end_logits"), "output by name")
        checkEquals("model_fp32.tflite", m3.modelFile, "model from models[]")
        checkEquals(false, m3.stripAccents, "flag under tokenizer.normalization")
        checkEquals(emptyList<String>(), m3.labels, "null labels")
        checkEquals("qa", m3.task, "task")
        checkEquals(tokenizer.specialIds, m3.specialIds(vocab), "special ids under tokenizer")

        checkThrows("no length", "sequence length") { BundleManifest.parse("""{"inputs": {}}""") }
        checkThrows("no mask", "role 'mask'") {
            BundleManifest.parse("""{"sequence_length": 8, "inputs": {"ids": "a", "segment_ids": "c"}}""")
        }
        checkThrows("not json", "Invalid JSON") { BundleManifest.parse("{sequence_length: 8}") }
        null
    }

    r.test("JSON reader") {
        val v = Json.parse("""{"a": [1, -2.5e3, true, null, "x\"\u00e9\ud83d\ude00\n"], "b": {}}""").asObject("v")
        checkEquals(listOf(1L, -2500.0, true, null, "x\"é\uD83D\uDE00\n"), v["a"], "values")
        checkThrows("trailing", "trailing") { Json.parse("[1] 2") }
        null
    }

    r.test("tokenizer edge cases") {
        checkEquals(0, tokenizer.encode("").size, "empty")
        checkEquals(0, tokenizer.encode(" \t\n\u200b ").size, "whitespace only")
        checkEquals(listOf("▁hello", ",", "▁world", "!"), tokenizer.tokenize("Héllo, World!"), "pieces")
        checkEquals(tokenizer.encode("a\uD800b").toList(), tokenizer.encode("a\uFFFDb").toList(), "lone surrogate as U+FFFD")
        val long = "the quick brown fox ".repeat(2000)
        val t0 = System.nanoTime()
        val ids = tokenizer.encode(long)
        val ms = (System.nanoTime() - t0) / 1e6
        checkEquals(8000, ids.size, "long input tokens")
        "40k chars in %.0f ms".format(ms)
    }

    exitProcess(r.finish())
}

/**
 * Code points defined in this JVM's Unicode tables that may still differ (none found on
 * Java 17 with Python 3.11 / sentencepiece 0.2); characters the JVM does not know are
 * counted separately as Unicode-version differences.
 */
val KNOWN_UNICODE_DIFFERENCES: Set<Int> = emptySet()
