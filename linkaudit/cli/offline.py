"""``linkaudit scan``: arguments to a scan run, the report to the console."""

from __future__ import annotations

import argparse

from linkaudit.cli.args import gate_options
from linkaudit.cli.output import Console, emit, lists_links
from linkaudit.config import Config
from linkaudit.errors import ExitCode
from linkaudit.run.scan import ScanOptions, exit_code, run_scan


def cmd_scan(args: argparse.Namespace, config: Config, console: Console) -> ExitCode:
    options = ScanOptions(paths=tuple(args.paths), gate=gate_options(args),
                          keep_links=lists_links(config))
    report = run_scan(config, options)
    emit(report, config, args.output, console)
    return exit_code(report)
