package org.alberttf.demo.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.withContext
import org.alberttf.demo.ml.SentimentClassifier

/** Type or paste text; probabilities and latency update as you type (debounced). */
@Composable
fun SentimentScreen() {
    val model = rememberModel { SentimentClassifier(it) }
    var text by rememberSaveable { mutableStateOf("A gorgeous, witty, seductive movie.") }
    var result by remember { mutableStateOf<SentimentClassifier.Result?>(null) }
    var error by remember { mutableStateOf<String?>(null) }

    LaunchedEffect(text, model?.value) {
        val classifier = model?.value ?: return@LaunchedEffect
        delay(150)
        try {
            result = withContext(Dispatchers.Default) { classifier.classify(text) }
            error = null
        } catch (e: Exception) {
            error = e.message
        }
    }

    Column(Modifier.padding(16.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        OutlinedTextField(value = text, onValueChange = { text = it }, label = { Text("Text") }, modifier = Modifier.fillMaxWidth(), minLines = 3)
        when {
            model == null -> Text("Loading model…")
            model.error != null -> Text(model.error, color = MaterialTheme.colorScheme.error)
            error != null -> Text(error!!, color = MaterialTheme.colorScheme.error)
        }
        result?.let { r ->
            for (label in r.labels) {
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Text(label.label, Modifier.width(96.dp))
                    LinearProgressIndicator(progress = { label.probability.toFloat() }, modifier = Modifier.weight(1f))
                    Text("%.3f".format(label.probability), Modifier.padding(start = 8.dp))
                }
            }
            Text("Latency: %.1f ms".format(r.latencyMs), style = MaterialTheme.typography.bodySmall)
            // Exactly the model's input: [CLS] pieces [SEP], from the same ids that LiteRT ran on.
            Text("Model input, ${r.pieces.size} pieces" + (if (r.truncated) " (text truncated)" else "") + ": " +
                r.pieces.joinToString(" "), style = MaterialTheme.typography.bodySmall)
        }
    }
}
