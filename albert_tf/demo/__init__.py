"""`albert demo`: from a fresh clone to a pretrained, fine-tuned, exported ALBERT."""
