"""The command line: arguments, config, rendering and exit codes; glue over ``linkaudit.run``."""

from linkaudit.cli.main import main

__all__ = ["main"]
