"""Reading the loop (``loop history``, ``loop status``) does not import training: a glance at
the audit trail must not pay for scikit-learn, which only a retraining cycle needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import modelyard


def test_loop_history_reads_the_audit_trail_without_importing_training(
        tmp_path: Path) -> None:
    with modelyard.open(tmp_path) as yard:
        yard.loop.audit.record("fraud", "trigger.fired", "drift on amount", cycle="c1")
        yard.loop.audit.record("fraud", "gate.rejected", "no better on roc_auc", cycle="c1")
    code = ("import json, sys\nfrom modelyard.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as stop:\n    assert not stop.code\n"
            "print(json.dumps(sorted(m for m in ('sklearn', 'modelyard.train') "
            "if m in sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code, "loop", "history", "fraud", "--json",
                           "-C", str(tmp_path)], capture_output=True, text=True, timeout=120,
                          check=True)
    *lines, imported = done.stdout.strip().splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["kind"], e["message"]) for e in events] == [
        ("trigger.fired", "drift on amount"), ("gate.rejected", "no better on roc_auc")]
    assert json.loads(imported) == []
