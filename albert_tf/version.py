"""The package's version: one place, read by setup.cfg (`attr:`) and written into every preset."""

__version__ = "0.1.0"
