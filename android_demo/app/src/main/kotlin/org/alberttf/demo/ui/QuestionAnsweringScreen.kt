package org.alberttf.demo.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.SpanStyle
import androidx.compose.ui.text.buildAnnotatedString
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.text.withStyle
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.alberttf.demo.ml.QuestionAnswerer

/** Paste a paragraph, ask a question: the answer is highlighted in the paragraph. */
@Composable
fun QuestionAnsweringScreen() {
    val model = rememberModel { QuestionAnswerer(it) }
    val scope = rememberCoroutineScope()
    var paragraph by rememberSaveable {
        mutableStateOf("The Eiffel Tower is a wrought-iron lattice tower in Paris, France. It was completed in 1889 and is 330 metres tall.")
    }
    var question by rememberSaveable { mutableStateOf("When was the tower completed?") }
    var result by remember { mutableStateOf<QuestionAnswerer.Result?>(null) }
    var error by remember { mutableStateOf<String?>(null) }

    Column(Modifier.padding(16.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        OutlinedTextField(paragraph, { paragraph = it; result = null }, label = { Text("Paragraph") }, modifier = Modifier.fillMaxWidth(), minLines = 5)
        OutlinedTextField(question, { question = it }, label = { Text("Question") }, modifier = Modifier.fillMaxWidth())
        Button(enabled = model?.value != null, onClick = {
            val qa = model?.value ?: return@Button
            scope.launch {
                try {
                    result = withContext(Dispatchers.Default) { qa.answer(question, paragraph) }
                    error = null
                } catch (e: Exception) {
                    error = e.message
                }
            }
        }) { Text("Answer") }
        when {
            model == null -> Text("Loading model…")
            model.error != null -> Text(model.error, color = MaterialTheme.colorScheme.error)
            error != null -> Text(error!!, color = MaterialTheme.colorScheme.error)
        }
        result?.let { r ->
            val a = r.answer
            if (a == null) Text("No answer (empty paragraph).") else {
                Text("Answer: ${a.text}", style = MaterialTheme.typography.titleMedium)
                Text("Score %.2f · latency %.1f ms%s".format(a.score, r.latencyMs, if (r.truncated) " · paragraph truncated to fit" else ""),
                    style = MaterialTheme.typography.bodySmall)
                if (a.end <= paragraph.length) {
                    Text(buildAnnotatedString {
                        append(paragraph.substring(0, a.start))
                        withStyle(SpanStyle(fontWeight = FontWeight.Bold, background = MaterialTheme.colorScheme.primaryContainer)) {
                            append(paragraph.substring(a.start, a.end))
                        }
                        append(paragraph.substring(a.end))
                    })
                }
            }
        }
    }
}
