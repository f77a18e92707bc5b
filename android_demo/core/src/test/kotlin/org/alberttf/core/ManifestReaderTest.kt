package org.alberttf.core

import com.google.gson.GsonBuilder
import com.google.gson.JsonArray
import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.google.gson.JsonParser
import com.google.gson.JsonPrimitive
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File
import java.security.MessageDigest

/**
 * [ManifestReader] on manifests that `albert export` wrote in this test run
 * (`albert.bundles`, see [Fixtures]): every field read, and a manifest with one
 * unknown field, one missing field or another major version rejected with the
 * field's name.
 */
class ManifestReaderTest {
    private fun manifestText(bundle: File) = File(bundle, "manifest.json").readText()

    private fun tree(bundle: File): JsonObject = JsonParser.parseString(manifestText(bundle)).asJsonObject

    @Test
    fun readsEveryFieldOfExportedManifests() {
        for (bundle in Fixtures.bundles) {
            val m = ManifestReader.parse(manifestText(bundle))
            val where = bundle.name

            // Every field of the file is in the data class with its value: serialized back, it is the same JSON.
            val back = GsonBuilder().serializeNulls().create().toJsonTree(m)
            assertEquals("$where: manifest -> BundleManifestV1 -> JSON", withoutNulls(tree(bundle)), withoutNulls(back))

            assertEquals(BundleManifestV1.FORMAT, m.format)
            assertTrue("$where task ${m.task}", m.task in listOf("classifier", "span_qa", "backbone"))
            assertTrue(m.seqLength >= 3 && m.maxPositionEmbeddings >= m.seqLength)
            assertEquals(listOf("input_word_ids", "input_mask", "input_type_ids"), listOf("ids", "mask", "segment_ids").map(m::inputName))
            for (input in m.inputs) {
                assertEquals("serving_default_${input.name}:0", input.tensorName)
                assertEquals("int32", input.dtype)
                assertEquals(listOf(1, m.seqLength), input.shape)
                assertTrue(input.role.isNotBlank())
            }
            for (output in m.outputs) assertEquals("float32", output.dtype)

            // The tokenizer section agrees with the bundle's vocabulary, as the Kotlin tokenizer computes it.
            val vocab = SentencePieceVocab.load(File(bundle, m.tokenizer.vocabFile))
            assertEquals("sentencepiece", m.tokenizer.type)
            assertEquals(vocab.size, m.tokenizer.vocabSize)
            assertEquals(SpecialIds.fromVocab(vocab), m.tokenizer.specialIds)
            val tokenizer = m.tokenizer(vocab)
            assertEquals(m.tokenizer.normalization.lowerCase, tokenizer.lowerCase)
            assertEquals(m.tokenizer.normalization.stripAccents, tokenizer.stripAccents)
            assertEquals(m.tokenizer.normalization.splitDigitComma, tokenizer.splitDigitComma)
            assertEquals(m.tokenizer.digitCommaTable, tokenizer.digitCommaTable.entries.associate { (k, v) -> k.toString() to v.toList() })
            assertTrue(m.tokenizer.packing.isNotBlank())

            // Files: every other file of the directory, with its size and sha256.
            val onDisk = bundle.listFiles()!!.filter { it.isFile && it.name != "manifest.json" }.map { it.name }.toSet()
            assertEquals("$where files", onDisk, m.files.keys)
            for ((name, entry) in m.files) {
                val bytes = File(bundle, name).readBytes()
                assertEquals("$name bytes", bytes.size.toLong(), entry.bytes)
                assertEquals("$name sha256", sha256(bytes), entry.sha256)
            }
            assertTrue(m.tokenizer.modelFile in m.files && m.tokenizer.vocabFile in m.files)
            for (model in m.models) {
                assertTrue("${model.file} listed in files", model.file in m.files)
                assertTrue(model.quantization in listOf("none", "fp16", "dynamic", "int8"))
                assertTrue(model.ops.isNotEmpty() && model.maxAbsDiffVsKeras >= 0)
                if (model.input == "text") {
                    assertTrue(!model.builtinOpsOnly && !model.requires.isNullOrEmpty() && model.note != null)
                } else {
                    assertEquals("ids", model.input)
                    assertTrue(model.builtinOpsOnly && model.requires == null && model.note == null)
                }
            }
            assertEquals("ids", m.deviceModel().input)
            // Each fp32 / fp16 / dynamic int8 model has a length-adaptive twin, and the phone runs that one.
            val fixed = m.models.filter { it.input == "ids" && !it.lengthAdaptive }
            val adaptive = m.models.filter { it.lengthAdaptive }
            assertEquals("$where adaptive twins", fixed.map { it.quantization }.filter { it != "int8" }, adaptive.map { it.quantization })
            for (model in adaptive) {
                assertEquals(model.file, fixed.first { it.quantization == model.quantization }.file.replace(".tflite", "${BundleManifestV1.ADAPTIVE_SUFFIX}.tflite"))
                assertNull("${model.file}: MediaPipe takes the fixed-length model", model.metadata)
            }
            assertTrue("$where: the phone runs a length-adaptive model", m.deviceModel().lengthAdaptive)
            assertEquals(m.deviceModel().quantization, m.deviceModel(listOf(m.deviceModel().quantization)).quantization)
            assertTrue(m.toolVersions.getValue("albert-tf").isNotBlank())

            when (m.task) {
                "classifier" -> {
                    assertEquals(listOf("probabilities"), m.outputs.map { it.name })
                    assertEquals(listOf(1, m.labels!!.size), m.outputs[0].shape)
                    assertEquals("labels.txt", m.labels, File(bundle, "labels.txt").readLines())
                    for (model in m.models.filter { it.input == "ids" }) {
                        if (!model.lengthAdaptive) assertEquals("mediapipe_text_classifier", model.metadata)
                        assertNotNull(model.goldenArgmaxAgreement)
                    }
                }
                "span_qa" -> {
                    assertNull(m.labels)
                    assertEquals(listOf("start_logits", "end_logits"), m.outputs.map { it.name })
                    assertTrue(m.outputs.all { it.shape == listOf(1, m.seqLength) })
                    assertTrue(m.models.all { it.metadata == null && it.goldenArgmaxAgreement == null })
                }
            }
            println("manifest.json of albert export read, every field checked: $where (${m.task}, ${m.models.size} models, ${m.files.size} files)")
        }
    }

    @Test
    fun unknownFieldIsRejectedWithItsName() {
        val bundle = Fixtures.bundles.first()
        val cases = mapOf<String, (JsonObject) -> Unit>(
            "preset" to { it.addProperty("preset", "tiny") },
            "tokenizer.normalization.nfkc" to { it.getAsJsonObject("tokenizer").getAsJsonObject("normalization").addProperty("nfkc", true) },
            "models[0].sha256" to { it.getAsJsonArray("models")[0].asJsonObject.addProperty("sha256", "00") },
            "inputs[2].scale" to { it.getAsJsonArray("inputs")[2].asJsonObject.addProperty("scale", 1.0) },
            "files.spm.model.mtime" to { it.getAsJsonObject("files").getAsJsonObject("spm.model").addProperty("mtime", 0) },
        )
        for ((field, edit) in cases) assertRejected(tree(bundle).also(edit), "$field: unknown field")
    }

    @Test
    fun missingFieldIsRejectedWithItsName() {
        val bundle = Fixtures.bundles.first()
        for (name in JsonFields.fieldNames(BundleManifestV1::class.java) - "format") {
            assertRejected(tree(bundle).also { it.remove(name) }, "manifest.json: $name: missing field")
        }
        assertRejected(tree(bundle).also { it.getAsJsonObject("tokenizer").getAsJsonObject("special_ids").remove("cls") },
            "tokenizer.special_ids.cls: missing field")
        assertRejected(tree(bundle).also { it.getAsJsonArray("models")[0].asJsonObject.remove("quantization") },
            "models[0].quantization: missing field")
        assertRejected(tree(bundle).also { it.remove("format") }, "manifest.json: format: expected \"albert_tf.bundle/<major>\"")
        // Present but null is not missing-but-allowed: labels may be null, seq_length may not.
        assertRejected(tree(bundle).also { it.add("seq_length", null) }, "seq_length: null is not allowed")
    }

    @Test
    fun otherMajorVersionIsRejectedByName() {
        val bundle = Fixtures.bundles.first()
        assertRejected(tree(bundle).also { it.addProperty("format", "albert_tf.bundle/2") }, "manifest.json: format: major version 2")
        assertRejected(tree(bundle).also { it.addProperty("format", "albert_tf.bundle/one") }, "format: expected")
        assertRejected(tree(bundle).also { it.addProperty("format", 1) }, "format: expected")
    }

    @Test
    fun wrongTypeIsRejectedWithItsName() {
        val bundle = Fixtures.bundles.first()
        assertRejected(tree(bundle).also { it.addProperty("seq_length", "32") }, "seq_length: expected an integer")
        assertRejected(tree(bundle).also { it.addProperty("seq_length", 32.5) }, "seq_length: expected an integer")
        assertRejected(tree(bundle).also { it.getAsJsonObject("tokenizer").getAsJsonObject("normalization").addProperty("lower_case", "yes") },
            "tokenizer.normalization.lower_case: expected true or false")
        assertRejected(tree(bundle).also { it.add("labels", JsonArray().apply { add(JsonPrimitive(1)) }) }, "labels[0]: expected a string")
        assertRejected(tree(bundle).also { it.getAsJsonObject("tokenizer").getAsJsonObject("normalization").addProperty("collapse_whitespace", false) },
            "tokenizer.normalization.collapse_whitespace: false is not supported")
    }

    @Test
    fun invalidJsonIsOneClearError() {
        assertRejected("{seq_length: 8", "manifest.json: invalid JSON")
        assertRejected("[]", "manifest.json: (root): expected a JSON object")
    }

    private fun assertRejected(manifest: JsonObject, messagePart: String) = assertRejected(manifest.toString(), messagePart)

    private fun assertRejected(json: String, messagePart: String) {
        try {
            ManifestReader.parse(json)
        } catch (e: IllegalArgumentException) {
            assertTrue("message '${e.message}' lacks '$messagePart'", e.message!!.contains(messagePart))
            return
        }
        fail("accepted a manifest that should fail with '$messagePart'")
    }

    private fun sha256(bytes: ByteArray) = MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { "%02x".format(it) }

    private fun withoutNulls(element: JsonElement): JsonElement = when {
        element.isJsonObject -> JsonObject().also { out ->
            for ((k, v) in element.asJsonObject.entrySet()) if (!v.isJsonNull) out.add(k, withoutNulls(v))
        }
        element.isJsonArray -> JsonArray().also { out -> element.asJsonArray.forEach { out.add(withoutNulls(it)) } }
        else -> element
    }
}
