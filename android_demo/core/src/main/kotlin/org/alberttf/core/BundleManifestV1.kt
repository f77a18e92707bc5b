package org.alberttf.core

import com.google.gson.annotations.SerializedName

/**
 * `manifest.json` of an `albert export` bundle, format `albert_tf.bundle/1`: exactly the
 * fields of `export/schemas/bundle_manifest_v1.schema.json`, no more, no fewer (read
 * with [ManifestReader], which rejects unknown, missing and mistyped fields).
 */
data class BundleManifestV1(
    /** `albert_tf.bundle/1`. */
    val format: String,
    /** `classifier`, `span_qa` or `backbone`. */
    val task: String,
    /** The fixed length of every id input. */
    @SerializedName("seq_length") val seqLength: Int,
    @SerializedName("max_position_embeddings") val maxPositionEmbeddings: Int,
    /** Class names in output order (classifiers), else null. */
    @MayBeNull val labels: List<String>?,
    val inputs: List<Input>,
    val outputs: List<Output>,
    val models: List<Model>,
    val tokenizer: Tokenizer,
    /** Every other file of the bundle: name -> checksum and size. */
    val files: Map<String, FileEntry>,
    @SerializedName("tool_versions") val toolVersions: Map<String, String>,
) {
    data class Input(
        /** The signature input name (feed it with `runSignature`). */
        val name: String,
        /** The graph tensor name (for models without signatures). */
        @SerializedName("tensor_name") val tensorName: String,
        /** The role: `ids`, `mask` or `segment_ids`. */
        @SerializedName("metadata_name") val metadataName: String,
        /** What the input holds, in words. */
        val role: String,
        val dtype: String,
        val shape: List<Int>,
    )

    data class Output(
        /** `probabilities` (classifier), `start_logits` / `end_logits` (span QA), `sequence_output` / `pooled_output`. */
        val name: String,
        val dtype: String,
        val shape: List<Int>,
    )

    data class Model(
        val file: String,
        /** `ids` (the three id inputs) or `text` (one string; needs tf-text ops, not for phones). */
        val input: String,
        /** `none`, `fp16`, `dynamic` or `int8`. */
        val quantization: String,
        val ops: List<String>,
        @SerializedName("builtin_ops_only") val builtinOpsOnly: Boolean,
        /** `mediapipe_text_classifier` when the file carries MediaPipe metadata, else null. */
        @MayBeNull val metadata: String?,
        @SerializedName("max_abs_diff_vs_keras") val maxAbsDiffVsKeras: Double,
        /** Classifier id models only. */
        @MayBeAbsent @SerializedName("golden_argmax_agreement") val goldenArgmaxAgreement: Double?,
        /** Text model only: its non-builtin ops. */
        @MayBeAbsent val requires: List<String>?,
        /** Text model only. */
        @MayBeAbsent val note: String?,
    ) {
        /**
         * A length-adaptive model (`*_adaptive.tflite`): inputs `[1, -1]`, fed the real token
         * count (no padding); the fixed `[1, seq_length]` model with the same quantization is
         * the one MediaPipe's TextClassifier takes. The input's shape signature confirms it at
         * load time (`LiteRtModel`).
         */
        val lengthAdaptive: Boolean get() = file.endsWith("$ADAPTIVE_SUFFIX.tflite")
    }

    data class Tokenizer(
        /** `sentencepiece`. */
        val type: String,
        @SerializedName("model_file") val modelFile: String,
        /** `piece<TAB>score<TAB>type` per line, in id order: what [SentencePieceVocab] reads. */
        @SerializedName("vocab_file") val vocabFile: String,
        @SerializedName("vocab_size") val vocabSize: Int,
        @SerializedName("special_ids") val specialIds: SpecialIds,
        val normalization: Normalization,
        /** Piece id (as a string) -> the ids the digit-comma rule re-splits it into. */
        @SerializedName("digit_comma_table") val digitCommaTable: Map<String, List<Int>>,
        /** How inputs are packed, in words. */
        val packing: String,
    )

    /** The preprocessing steps, applied in this order before SentencePiece. */
    data class Normalization(
        @SerializedName("collapse_whitespace") val collapseWhitespace: Boolean,
        @SerializedName("replace_latex_quotes") val replaceLatexQuotes: Boolean,
        @SerializedName("strip_accents") val stripAccents: Boolean,
        @SerializedName("lower_case") val lowerCase: Boolean,
        @SerializedName("split_digit_comma") val splitDigitComma: Boolean,
    )

    data class FileEntry(val sha256: String, val bytes: Long)

    /** The signature input name of the input with role `ids`, `mask` or `segment_ids`. */
    fun inputName(role: String): String = input(role).name

    fun input(role: String): Input = inputs.firstOrNull { it.metadataName == role }
        ?: throw IllegalArgumentException("manifest.json inputs: no input with metadata_name '$role' (found ${inputs.map { it.metadataName }}).")

    /** The output called [name] (e.g. `probabilities`, `start_logits`), or null when the model has none. */
    fun outputName(name: String): String? = outputs.firstOrNull { it.name == name }?.name

    /**
     * The model a phone runs: ids in, builtin ops only, the first of [preference] the bundle has;
     * of two with that quantization, the length-adaptive one (its latency scales with the
     * sentence, not with `seq_length`).
     */
    fun deviceModel(preference: List<String> = DEVICE_PREFERENCE): Model =
        models.filter { it.input == "ids" && it.builtinOpsOnly }
            .minWithOrNull(compareBy<Model> { preference.indexOf(it.quantization).let { i -> if (i < 0) preference.size else i } }
                .thenBy { !it.lengthAdaptive })
            ?: throw IllegalArgumentException("manifest.json models: no model with input 'ids' and builtin ops only (found ${models.map { it.file }}).")

    /** The tokenizer this bundle's model was trained with, over [vocab] (the bundle's `spm_vocab.tsv`). */
    fun tokenizer(vocab: SentencePieceVocab): AlbertTokenizer {
        require(vocab.size == tokenizer.vocabSize) {
            "${tokenizer.vocabFile} has ${vocab.size} pieces but manifest.json tokenizer.vocab_size is ${tokenizer.vocabSize}."
        }
        val n = tokenizer.normalization
        return AlbertTokenizer(vocab, n.lowerCase, n.stripAccents, n.splitDigitComma, tokenizer.specialIds)
    }

    companion object {
        const val FORMAT = "albert_tf.bundle/1"

        /** Before `.tflite` in a length-adaptive model's file name (Python `ADAPTIVE_SUFFIX`). */
        const val ADAPTIVE_SUFFIX = "_adaptive"

        /** Smaller and faster first: dynamic-range int8, fp16, float32, full int8. */
        val DEVICE_PREFERENCE = listOf("dynamic", "fp16", "none", "int8")
    }
}
