"""Command-line interface (`albert ...`)."""
