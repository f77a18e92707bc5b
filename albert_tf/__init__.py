"""albert_tf: ALBERT (A Lite BERT) in TensorFlow / Keras 3.

Importing the package registers its layers and models with Keras, so
`keras.saving.load_model("model.keras")` works afterwards.
"""

import os as _os

# Keras 3 must run on TensorFlow here; respect an explicit user choice but
# default to it before keras is first imported.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow's C++ INFO lines at import (oneDNN, CPU features, CUDA stubs) are
# noise for users of the library and the CLI; warnings and errors still show.
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
