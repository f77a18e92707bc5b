package org.alberttf.core

import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.google.gson.JsonPrimitive
import com.google.gson.annotations.SerializedName
import java.lang.reflect.Field
import java.lang.reflect.Modifier
import java.lang.reflect.ParameterizedType
import java.lang.reflect.Type
import java.lang.reflect.WildcardType

/** The field may be left out of the JSON object (it is then null). */
@Target(AnnotationTarget.FIELD)
@Retention(AnnotationRetention.RUNTIME)
annotation class MayBeAbsent

/** The field is always in the JSON object, but its value may be null. */
@Target(AnnotationTarget.FIELD)
@Retention(AnnotationRetention.RUNTIME)
annotation class MayBeNull

/**
 * Checks a parsed JSON tree against a Kotlin data class before Gson binds it: every
 * JSON object has exactly the class's fields (names from `@SerializedName`), each
 * present unless [MayBeAbsent], non-null unless [MayBeNull] or [MayBeAbsent], and
 * each value of the declared type (Gson itself would turn a number into a String, a
 * missing field into null in a non-null Kotlin property, and skip unknown fields).
 *
 * Errors are [IllegalArgumentException]s naming the field by its JSON path, e.g.
 * `tokenizer.special_ids.cls: missing field`.
 */
object JsonFields {
    fun check(element: JsonElement, type: Type, path: String = "") {
        when {
            type is WildcardType -> check(element, type.upperBounds[0], path)
            type is ParameterizedType && type.rawType == List::class.java -> {
                if (!element.isJsonArray) fail(path, "expected an array, got $element")
                element.asJsonArray.forEachIndexed { i, item -> check(item, type.actualTypeArguments[0], "$path[$i]") }
            }
            type is ParameterizedType && type.rawType == Map::class.java -> {
                if (!element.isJsonObject) fail(path, "expected an object, got ${brief(element)}")
                for ((key, value) in element.asJsonObject.entrySet()) check(value, type.actualTypeArguments[1], join(path, key))
            }
            type is Class<*> -> checkClass(element, type, path)
            else -> fail(path, "cannot check a field of type $type")
        }
    }

    /** The JSON names of [type]'s fields, in declaration order. */
    fun fieldNames(type: Class<*>): List<String> = fields(type).map { jsonName(it) }

    private fun checkClass(element: JsonElement, type: Class<*>, path: String) {
        if (element.isJsonNull) fail(path, "null is not allowed")
        when (type) {
            String::class.java -> if (!(element.isJsonPrimitive && element.asJsonPrimitive.isString)) fail(path, "expected a string, got ${brief(element)}")
            Boolean::class.javaPrimitiveType, Boolean::class.javaObjectType ->
                if (!(element.isJsonPrimitive && element.asJsonPrimitive.isBoolean)) fail(path, "expected true or false, got ${brief(element)}")
            Int::class.javaPrimitiveType, Int::class.javaObjectType, Long::class.javaPrimitiveType, Long::class.javaObjectType -> {
                val value = (element as? JsonPrimitive)?.takeIf { it.isNumber }?.asBigDecimal
                if (value == null || value.stripTrailingZeros().scale() > 0) fail(path, "expected an integer, got ${brief(element)}")
                val max = if (type == Long::class.javaPrimitiveType || type == Long::class.javaObjectType) Long.MAX_VALUE else Int.MAX_VALUE.toLong()
                if (value.abs() > max.toBigDecimal()) fail(path, "$value is out of range")
            }
            Double::class.javaPrimitiveType, Double::class.javaObjectType ->
                if (!(element.isJsonPrimitive && element.asJsonPrimitive.isNumber)) fail(path, "expected a number, got ${brief(element)}")
            else -> checkObject(element, type, path)
        }
    }

    private fun checkObject(element: JsonElement, type: Class<*>, path: String) {
        if (!element.isJsonObject) fail(path, "expected an object, got ${brief(element)}")
        val json: JsonObject = element.asJsonObject
        val fields = fields(type).associateBy { jsonName(it) }
        json.keySet().firstOrNull { it !in fields }?.let { fail(join(path, it), "unknown field (${type.simpleName} has ${fields.keys})") }
        for ((name, field) in fields) {
            val value = json.get(name)
            val absentOk = field.isAnnotationPresent(MayBeAbsent::class.java)
            when {
                value == null -> if (!absentOk) fail(join(path, name), "missing field")
                value.isJsonNull -> if (!absentOk && !field.isAnnotationPresent(MayBeNull::class.java)) fail(join(path, name), "null is not allowed")
                else -> check(value, field.genericType, join(path, name))
            }
        }
    }

    private fun fields(type: Class<*>): List<Field> =
        type.declaredFields.filter { !Modifier.isStatic(it.modifiers) && !it.isSynthetic }

    private fun jsonName(field: Field): String = field.getAnnotation(SerializedName::class.java)?.value ?: field.name

    private fun join(path: String, name: String) = if (path.isEmpty()) name else "$path.$name"

    private fun brief(element: JsonElement) = element.toString().let { if (it.length > 40) it.take(40) + "…" else it }

    private fun fail(path: String, message: String): Nothing =
        throw IllegalArgumentException("${path.ifEmpty { "(root)" }}: $message")
}
