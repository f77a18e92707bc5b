"""ALBERT's optimization: the original LAMB rule, its learning-rate schedule and a factory.

Importing this package registers `AlbertLamb` and `WarmupPolynomialDecay` with
Keras, so a compiled model saved as `.keras` reloads with its optimizer.
"""

from albert_tf.optimization.factory import create_optimizer
from albert_tf.optimization.lamb import DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY, AlbertLamb
from albert_tf.optimization.schedule import WarmupPolynomialDecay

__all__ = ["DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY", "AlbertLamb", "WarmupPolynomialDecay", "create_optimizer"]
