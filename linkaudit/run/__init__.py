"""The runs a user asks for, as library calls: ``scan.run_scan``, ``gate.select``,
``check.run_check`` and ``check.check_urls``, ``fix.plan_fix`` and ``fix.apply_fix``,
``report.history_report``. Shared by them: ``change`` (what a gate run reports) and
``history`` (the configured store, opened). None prints or exits; the CLI does that."""
