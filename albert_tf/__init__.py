"""albert_tf: ALBERT (A Lite BERT) in TensorFlow / Keras 3.

Importing the package registers its layers and models with Keras, so
`keras.saving.load_model("model.keras")` works afterwards.
"""

import os as _os

# Keras 3 must run on TensorFlow here; respect an explicit user choice but
# default to it before keras is first imported.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The `albert` command hides TensorFlow's native lines below FATAL (unless -v or
# the user's TF_CPP_MIN_LOG_LEVEL), so an error is its one line. TensorFlow reads
# the variable only while it is imported, which importing this package does, so
# the command decides here, before the CLI's own module runs.
from albert_tf import native_logs as _native_logs  # noqa: E402  (stdlib only)

if _native_logs.is_albert_command():
    import sys as _sys

    _native_logs.quiet_tensorflow_logs(_sys.argv[1:])
# TensorFlow's C++ INFO lines at import (oneDNN, CPU features, CUDA stubs) are
# noise for users of the library; warnings and errors still show.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from albert_tf.backbone import AlbertBackbone  # noqa: E402
from albert_tf.config import AlbertConfig  # noqa: E402
from albert_tf.graph_tokenizer import AlbertGraphTokenizer  # noqa: E402
from albert_tf.tokenizer import AlbertTokenizer  # noqa: E402
from albert_tf.version import __version__  # noqa: E402

# Registered with Keras on import, so that saved pretrainers, task models and
# the optimizers inside compiled models load with `keras.saving.load_model`.
from albert_tf import optimization as _optimization  # noqa: E402,F401
from albert_tf import pretrainer as _pretrainer  # noqa: E402,F401
from albert_tf import tasks as _tasks  # noqa: E402,F401

__all__ = ["AlbertBackbone", "AlbertConfig", "AlbertGraphTokenizer", "AlbertTokenizer", "Distiller", "__version__"]


def __getattr__(name):
    # Imported on first use: the distillation package pulls in the task models
    # and tf.data code that plain encoder users do not need.
    if name == "Distiller":
        from albert_tf.distillation import Distiller

        return Distiller
    raise AttributeError(f"module 'albert_tf' has no attribute {name!r}")
