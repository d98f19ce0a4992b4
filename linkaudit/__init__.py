"""linkaudit: a citation and link auditor for Markdown notes."""

__version__ = "0.1.0"
