"""Training infrastructure: distribution strategies, callbacks, the pretraining run."""
