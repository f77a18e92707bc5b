package org.alberttf.core

/**
 * A small JSON reader (RFC 8259), so the core has no dependency: objects become
 * `Map<String, Any?>` (insertion order kept), arrays `List<Any?>`, numbers `Long`
 * when integral and written without fraction/exponent, else `Double`.
 */
object Json {
    fun parse(text: String): Any? {
        val parser = Parser(text)
        parser.skipWhitespace()
        val value = parser.readValue()
        parser.skipWhitespace()
        if (parser.pos != text.length) parser.fail("trailing characters")
        return value
    }

    private class Parser(val s: String) {
        var pos = 0

        fun fail(message: String): Nothing =
            throw IllegalArgumentException("Invalid JSON at offset $pos: $message")

        fun skipWhitespace() {
            while (pos < s.length && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\r' || s[pos] == '\t')) pos++
        }

        fun readValue(): Any? {
            if (pos >= s.length) fail("unexpected end")
            return when (val c = s[pos]) {
                '{' -> readObject()
                '[' -> readArray()
                '"' -> readString()
                't' -> readLiteral("true", true)
                'f' -> readLiteral("false", false)
                'n' -> readLiteral("null", null)
                else -> if (c == '-' || c in '0'..'9') readNumber() else fail("unexpected '$c'")
            }
        }

        fun readLiteral(word: String, value: Any?): Any? {
            if (!s.startsWith(word, pos)) fail("expected $word")
            pos += word.length
            return value
        }

        fun readObject(): Map<String, Any?> {
            val result = LinkedHashMap<String, Any?>()
            pos++
            skipWhitespace()
            if (pos < s.length && s[pos] == '}') { pos++; return result }
            while (true) {
                skipWhitespace()
                if (pos >= s.length || s[pos] != '"') fail("expected a key")
                val key = readString()
                skipWhitespace()
                if (pos >= s.length || s[pos] != ':') fail("expected ':'")
                pos++
                skipWhitespace()
                result[key] = readValue()
                skipWhitespace()
                if (pos >= s.length) fail("unterminated object")
                when (s[pos++]) {
                    ',' -> continue
                    '}' -> return result
                    else -> { pos--; fail("expected ',' or '}'") }
                }
            }
        }

        fun readArray(): List<Any?> {
            val result = ArrayList<Any?>()
            pos++
            skipWhitespace()
            if (pos < s.length && s[pos] == ']') { pos++; return result }
            while (true) {
                skipWhitespace()
                result.add(readValue())
                skipWhitespace()
                if (pos >= s.length) fail("unterminated array")
                when (s[pos++]) {
                    ',' -> continue
                    ']' -> return result
                    else -> { pos--; fail("expected ',' or ']'") }
                }
            }
        }

        fun readString(): String {
            pos++ // opening quote
            val out = StringBuilder()
            while (true) {
                if (pos >= s.length) fail("unterminated string")
                val c = s[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> {
                        if (pos >= s.length) fail("unterminated escape")
                        when (val e = s[pos++]) {
                            '"' -> out.append('"'); '\\' -> out.append('\\'); '/' -> out.append('/')
                            'b' -> out.append('\b'); 'f' -> out.append('\u000c'); 'n' -> out.append('\n')
                            'r' -> out.append('\r'); 't' -> out.append('\t')
                            'u' -> {
                                if (pos + 4 > s.length) fail("short \\u escape")
                                out.append(s.substring(pos, pos + 4).toInt(16).toChar())
                                pos += 4
                            }
                            else -> fail("bad escape '\\$e'")
                        }
                    }
                    else -> out.append(c)
                }
            }
        }

        fun readNumber(): Any {
            val start = pos
            if (s[pos] == '-') pos++
            var integral = true
            while (pos < s.length) {
                val c = s[pos]
                if (c in '0'..'9') pos++
                else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') { integral = false; pos++ }
                else break
            }
            val token = s.substring(start, pos)
            return try {
                if (integral) token.toLongOrNull() ?: token.toDouble() else token.toDouble()
            } catch (e: NumberFormatException) {
                fail("bad number '$token'")
            }
        }
    }
}

/** Typed access to parsed JSON with clear errors. */
internal fun Any?.asObject(what: String): Map<String, Any?> =
    this as? Map<String, Any?> ?: throw IllegalArgumentException("$what: expected a JSON object, got ${describe(this)}")

internal fun Any?.asList(what: String): List<Any?> =
    this as? List<Any?> ?: throw IllegalArgumentException("$what: expected a JSON array, got ${describe(this)}")

internal fun Any?.asInt(what: String): Int = when (this) {
    is Long -> this.toInt()
    is Double -> if (this == Math.floor(this)) this.toInt() else throw IllegalArgumentException("$what: expected an integer, got $this")
    else -> throw IllegalArgumentException("$what: expected an integer, got ${describe(this)}")
}

internal fun Any?.asDouble(what: String): Double = (this as? Number)?.toDouble()
    ?: throw IllegalArgumentException("$what: expected a number, got ${describe(this)}")

internal fun Any?.asIntArray(what: String): IntArray = asList(what).map { it.asInt(what) }.toIntArray()

private fun describe(value: Any?): String = when (value) {
    null -> "null"
    is Map<*, *> -> "an object"
    is List<*> -> "an array"
    is String -> "the string \"${value.take(40)}\""
    else -> value.toString()
}
