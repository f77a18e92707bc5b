package org.alberttf.core

import com.google.gson.JsonArray
import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.google.gson.JsonParser
import org.junit.Assume
import java.io.File

/**
 * Files the tests read, named by system properties (run_jvm_tests.sh and Gradle's
 * `:core:test` set them):
 *
 * - `albert.goldenDir`: `spm_vocab.tsv` and `golden_tokenizer.json` from
 *   `core/tools/make_golden.py` (the Python tokenizer's outputs on real text);
 * - `albert.bundles`: bundle directories written by `albert export`, separated by
 *   the path separator.
 *
 * A missing property skips the tests that need it, unless `albert.requireFixtures`
 * is `true` (as in CI), where it fails them.
 */
object Fixtures {
    private val required get() = System.getProperty("albert.requireFixtures") == "true"

    private fun property(name: String, what: String): String {
        val value = System.getProperty(name)?.takeIf { it.isNotBlank() }
        if (value == null) {
            if (required) throw AssertionError("system property $name is not set ($what)")
            Assume.assumeTrue("system property $name is not set ($what)", false)
        }
        return value!!
    }

    val goldenDir: File by lazy { File(property("albert.goldenDir", "run core/tools/make_golden.py --out DIR")) }

    val bundles: List<File> by lazy {
        property("albert.bundles", "bundle directories written by albert export").split(File.pathSeparator).map(::File)
    }

    val vocab: SentencePieceVocab by lazy { SentencePieceVocab.load(File(goldenDir, "spm_vocab.tsv")) }

    val golden: JsonObject by lazy { JsonParser.parseString(File(goldenDir, "golden_tokenizer.json").readText()).asJsonObject }

    val tokenizer: AlbertTokenizer by lazy { AlbertTokenizer(vocab) }
}

fun JsonElement.ints(): IntArray = asJsonArray.map { it.asInt }.toIntArray()

fun JsonObject.ints(key: String): IntArray = getAsJsonArray(key).ints()

fun JsonObject.array(key: String): JsonArray = getAsJsonArray(key)

fun JsonObject.string(key: String): String = get(key).asString

fun JsonObject.stringOrNull(key: String): String? = get(key)?.takeIf { !it.isJsonNull }?.asString
