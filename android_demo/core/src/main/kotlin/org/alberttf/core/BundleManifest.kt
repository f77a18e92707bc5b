package org.alberttf.core

/**
 * The export bundle's `manifest.json`, read by key and tolerant of layout: each
 * field is looked up under a few accepted names (first the top level, then one
 * level down, e.g. under "model" or "tokenizer"), and a missing required field
 * fails with the names that were tried.
 *
 * Fields (accepted key names in [Keys]):
 * - sequence length (required);
 * - input tensor names by role `ids` / `mask` / `segment_ids` (required), either as
 *   `{"ids": "input_word_ids", ...}`, as `[{"name": ..., "role": ...}]` or as
 *   `{"input_word_ids": {"role": "ids"}, ...}`;
 * - output tensor names by role (optional: `probabilities`/`logits` for a classifier,
 *   `start_logits`/`end_logits` for QA), same layouts, or one `output` name;
 * - special ids `pad`, `unk`, `cls`, `sep`, `mask` (optional: else looked up by piece name);
 * - normalization flags `lowercase`, `strip_accents`, `split_digit_comma` (optional, default true);
 * - labels (optional), model file name (optional: else the first `.tflite` in `files`),
 *   file sha256s (optional).
 */
class BundleManifest(
    val sequenceLength: Int,
    val inputs: Map<String, String>,
    val outputs: Map<String, String>,
    val specialIds: Map<String, Int>,
    val lowerCase: Boolean,
    val stripAccents: Boolean,
    val splitDigitComma: Boolean,
    val labels: List<String>,
    val modelFile: String?,
    val sha256: Map<String, String>,
    /** Signature name -> graph tensor name, where the manifest gives both (`tensor_name`). */
    val tensorNames: Map<String, String> = emptyMap(),
    /** `task` (e.g. "classifier", "qa"), when given. */
    val task: String? = null,
) {
    fun inputName(role: String): String = inputs[role]
        ?: throw IllegalArgumentException("manifest.json: no input tensor with role '$role' (found roles ${inputs.keys}).")

    fun outputName(role: String): String? = outputs[role]

    /** [SpecialIds] from the manifest, falling back to the vocabulary's pieces for missing roles. */
    fun specialIds(vocab: SentencePieceVocab): SpecialIds {
        val fromVocab = lazy { SpecialIds.fromVocab(vocab) }
        fun id(role: String, default: (SpecialIds) -> Int) = specialIds[role] ?: default(fromVocab.value)
        return SpecialIds(id("pad") { it.pad }, id("unk") { it.unk }, id("cls") { it.cls }, id("sep") { it.sep }, id("mask") { it.mask })
    }

    fun tokenizer(vocab: SentencePieceVocab): AlbertTokenizer =
        AlbertTokenizer(vocab, lowerCase, stripAccents, splitDigitComma, specialIds(vocab))

    /** The accepted key names, in lookup order (the first is the documented one). */
    object Keys {
        val SEQUENCE_LENGTH = listOf("sequence_length", "seq_length", "max_seq_length")
        val INPUTS = listOf("inputs", "input_tensors", "input_names")
        val OUTPUTS = listOf("outputs", "output_tensors", "output_names")
        val OUTPUT = listOf("output", "output_name")
        val SPECIAL_IDS = listOf("special_ids", "special_token_ids", "special_tokens")
        val NORMALIZATION = listOf("normalization", "preprocessing")
        val LOWERCASE = listOf("lowercase", "lower_case", "do_lower_case")
        val STRIP_ACCENTS = listOf("strip_accents", "remove_accents")
        val SPLIT_DIGIT_COMMA = listOf("split_digit_comma", "digit_comma_split")
        val LABELS = listOf("labels", "label_names", "class_names")
        val MODEL_FILE = listOf("model_file", "tflite", "model_path")
        val FILES = listOf("files", "sha256", "checksums")
        val ROLE_IDS = listOf("ids", "input_ids", "input_word_ids", "word_ids")
        val ROLE_MASK = listOf("mask", "input_mask", "attention_mask")
        val ROLE_SEGMENT_IDS = listOf("segment_ids", "input_type_ids", "token_type_ids", "type_ids")
        val SPECIAL_ROLES = listOf("pad", "unk", "cls", "sep", "mask")
    }

    companion object {
        private var tensorNames = LinkedHashMap<String, String>()

        private val INPUT_ROLES = mapOf("ids" to Keys.ROLE_IDS, "mask" to Keys.ROLE_MASK, "segment_ids" to Keys.ROLE_SEGMENT_IDS)

        @Synchronized
        fun parse(json: String): BundleManifest {
            tensorNames = LinkedHashMap()
            val root = Json.parse(json).asObject("manifest.json")
            val length = find(root, Keys.SEQUENCE_LENGTH)?.asInt("manifest.json sequence length")
                ?: missing("sequence length", Keys.SEQUENCE_LENGTH)
            require(length >= 3) { "manifest.json: sequence length must be >= 3, got $length" }

            val inputsNode = find(root, Keys.INPUTS) ?: missing("input tensors", Keys.INPUTS)
            val inputs = canonicalRoles(roleMap(inputsNode, "inputs"))
            for (role in INPUT_ROLES.keys) if (role !in inputs) {
                throw IllegalArgumentException("manifest.json: no input with role '$role' (accepted names ${INPUT_ROLES[role]}); found ${inputs.keys}.")
            }
            val outputs = LinkedHashMap<String, String>()
            find(root, Keys.OUTPUTS)?.let { outputs.putAll(canonicalRoles(roleMap(it, "outputs"))) }
            if (outputs.isEmpty()) find(root, Keys.OUTPUT)?.let { outputs["output"] = it.toString() }

            val special = LinkedHashMap<String, Int>()
            find(root, Keys.SPECIAL_IDS)?.asObject("manifest.json special ids")?.forEach { (k, v) ->
                if (k.lowercase() in Keys.SPECIAL_ROLES && v is Number) special[k.lowercase()] = v.asInt("special id $k")
            }

            val normalization = find(root, Keys.NORMALIZATION, depth = 2) as? Map<String, Any?>
            fun flag(names: List<String>): Boolean {
                val value = normalization?.let { n -> names.firstNotNullOfOrNull { n[it] } } ?: find(root, names)
                return when (value) {
                    null -> true
                    is Boolean -> value
                    else -> throw IllegalArgumentException("manifest.json: ${names[0]} must be true or false, got $value")
                }
            }

            val labels = (Keys.LABELS.firstNotNullOfOrNull { root[it] } as? List<*>)?.map { it.toString() } ?: emptyList()
            val sha = LinkedHashMap<String, String>()
            when (val files = find(root, Keys.FILES)) {
                is Map<*, *> -> files.forEach { (k, v) ->
                    val digest = if (v is Map<*, *>) v["sha256"] else v
                    if (digest is String) sha[k.toString()] = digest
                }
                is List<*> -> files.forEach { entry ->
                    val e = entry as? Map<*, *> ?: return@forEach
                    val name = (e["path"] ?: e["name"] ?: e["file"])?.toString() ?: return@forEach
                    (e["sha256"] as? String)?.let { sha[name] = it }
                }
            }
            // The model: a top-level name, else the first entry of "models" fed with ids (the text-input
            // variant needs Flex ops), else the first .tflite among the files.
            val models = (root["models"] as? List<*>).orEmpty().mapNotNull { it as? Map<*, *> }
            val modelFile = Keys.MODEL_FILE.firstNotNullOfOrNull { root[it] as? String }?.takeIf { it.endsWith(".tflite") }
                ?: models.firstOrNull { (it["file"] as? String)?.endsWith(".tflite") == true && (it["input"] ?: "ids") == "ids" }?.get("file") as? String
                ?: sha.keys.firstOrNull { it.endsWith(".tflite") }
            return BundleManifest(length, inputs, outputs, special, flag(Keys.LOWERCASE), flag(Keys.STRIP_ACCENTS),
                flag(Keys.SPLIT_DIGIT_COMMA), labels, modelFile, sha, LinkedHashMap(tensorNames), (root["task"] as? String))
        }

        private fun missing(what: String, names: List<String>): Nothing =
            throw IllegalArgumentException("manifest.json: missing the $what (looked for keys $names at the top level and one level down).")

        /** The value of the first of [names] at the top level, else one level down (else two, with [depth] 2). */
        private fun find(root: Map<*, *>, names: List<String>, depth: Int = 1): Any? {
            var level: List<Map<*, *>> = listOf(root)
            for (d in 0..depth) {
                for (node in level) names.firstOrNull { node[it] != null }?.let { return node[it] }
                level = level.flatMap { node -> node.values.filterIsInstance<Map<*, *>>() }
            }
            return null
        }

        /** `role -> tensor name` from any of the accepted layouts. */
        private fun roleMap(node: Any?, what: String): Map<String, String> {
            val result = LinkedHashMap<String, String>()
            when (node) {
                is Map<*, *> -> node.forEach { (key, value) ->
                    when (value) {
                        is String -> result[key.toString()] = value                       // role -> name
                        is Map<*, *> -> {                                                  // name -> {role: ...}
                            val role = value["role"]?.toString() ?: key.toString()
                            result[role] = value["name"]?.toString() ?: key.toString()
                        }
                    }
                }
                is List<*> -> node.forEachIndexed { i, entry ->
                    when (entry) {
                        is Map<*, *> -> {
                            // The name to feed: the signature name ("name"); "tensor_name" is kept in [tensorNames].
                            val name = entry["name"]?.toString()
                                ?: throw IllegalArgumentException("manifest.json $what[$i]: no 'name'")
                            // The role: the first of "role", "metadata_name", "name" that is a known role.
                            val candidates = listOfNotNull(entry["role"], entry["metadata_name"], entry["name"]).map { it.toString() }
                            val role = candidates.firstOrNull { canonicalRole(it) != null }?.let { canonicalRole(it) } ?: name
                            result[role] = name
                            entry["tensor_name"]?.let { tensorNames[name] = it.toString() }
                        }
                        is String -> result[entry] = entry
                    }
                }
                else -> throw IllegalArgumentException("manifest.json $what: expected an object or an array")
            }
            return result
        }

        private val OUTPUT_ROLES = listOf("probabilities", "logits", "start_logits", "end_logits")

        /** `ids` / `mask` / `segment_ids` for an input role alias, the role itself for a known output role, else null. */
        private fun canonicalRole(role: String): String? {
            val r = role.lowercase()
            return INPUT_ROLES.entries.firstOrNull { r in it.value }?.key ?: r.takeIf { it in OUTPUT_ROLES }
        }

        /** Maps role aliases (`input_word_ids`, `token_type_ids`, ...) to `ids`, `mask`, `segment_ids`. */
        private fun canonicalRoles(map: Map<String, String>): Map<String, String> {
            val result = LinkedHashMap<String, String>()
            for ((role, name) in map) result.putIfAbsent(canonicalRole(role) ?: role, name)
            return result
        }
    }
}
