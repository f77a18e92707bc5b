package org.alberttf.core

import com.google.gson.Gson
import com.google.gson.JsonElement
import com.google.gson.JsonParseException
import com.google.gson.JsonParser

/**
 * Reads a bundle's `manifest.json` (written by `albert export`, checked there against
 * `export/schemas/bundle_manifest_v<major>.schema.json`).
 *
 * The `format` field, `albert_tf.bundle/<major>`, picks the data class: major 1 is
 * [BundleManifestV1]. Another major version, a missing field, an unknown field or a
 * value of the wrong type fails with one [IllegalArgumentException] that names the
 * field, e.g. `manifest.json: tokenizer.vocab_size: missing field`.
 */
object ManifestReader {
    const val FORMAT_PREFIX = "albert_tf.bundle/"
    const val SUPPORTED_MAJOR = 1

    private val gson = Gson()

    fun parse(json: String): BundleManifestV1 {
        val root: JsonElement = try {
            JsonParser.parseString(json)
        } catch (e: JsonParseException) {
            throw IllegalArgumentException("manifest.json: invalid JSON (${e.message}).", e)
        }
        if (!root.isJsonObject) fail("(root): expected a JSON object")
        val format = root.asJsonObject.get("format")
        val major = format?.takeIf { it.isJsonPrimitive && it.asJsonPrimitive.isString }?.asString
            ?.removePrefix(FORMAT_PREFIX)?.takeIf { it.isNotEmpty() && it.all(Char::isDigit) }?.toIntOrNull()
            ?: fail("format: expected \"$FORMAT_PREFIX<major>\", got ${format ?: "no field"}")
        if (major != SUPPORTED_MAJOR) {
            fail("format: major version $major ($FORMAT_PREFIX$major) is not supported; this app reads " +
                "${BundleManifestV1.FORMAT}: export the bundle with a matching albert_tf or update the app")
        }
        try {
            JsonFields.check(root, BundleManifestV1::class.java)
        } catch (e: IllegalArgumentException) {
            fail("${e.message} (format ${BundleManifestV1.FORMAT}; re-export the bundle with `albert export`)")
        }
        return validated(gson.fromJson(root, BundleManifestV1::class.java))
    }

    /** What the schema states and the Kotlin tokenizer relies on, beyond field types. */
    private fun validated(m: BundleManifestV1): BundleManifestV1 {
        if (m.seqLength < 3) fail("seq_length: must be >= 3, got ${m.seqLength}")
        for (role in listOf("ids", "mask", "segment_ids")) {
            if (m.inputs.none { it.metadataName == role }) fail("inputs: no input with metadata_name '$role'")
        }
        val n = m.tokenizer.normalization
        if (!n.collapseWhitespace) fail("tokenizer.normalization.collapse_whitespace: false is not supported by the Kotlin tokenizer")
        if (!n.replaceLatexQuotes) fail("tokenizer.normalization.replace_latex_quotes: false is not supported by the Kotlin tokenizer")
        return m
    }

    private fun fail(message: String): Nothing = throw IllegalArgumentException("manifest.json: $message.")
}
