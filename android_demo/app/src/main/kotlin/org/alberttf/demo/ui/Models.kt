package org.alberttf.demo.ui

import android.content.Context
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.platform.LocalContext
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/** A model loaded off the main thread: null while loading, or the load error. */
class Loaded<T>(val value: T?, val error: String?)

@Composable
fun <T : AutoCloseable> rememberModel(load: (Context) -> T): Loaded<T>? {
    val context = LocalContext.current.applicationContext
    var state by remember { mutableStateOf<Loaded<T>?>(null) }
    androidx.compose.runtime.LaunchedEffect(Unit) {
        state = withContext(Dispatchers.Default) {
            try { Loaded(load(context), null) } catch (e: Exception) { Loaded(null, e.message ?: e.toString()) }
        }
    }
    DisposableEffect(Unit) { onDispose { state?.value?.close() } }
    return state
}
