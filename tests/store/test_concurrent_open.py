"""Several processes opening a brand-new store at once migrate it exactly once."""

from __future__ import annotations

import subprocess
import sys

from modelyard.config import Settings
from modelyard.store import open_store

OPEN = """
import sys
from modelyard.config import load_settings
from modelyard.store import open_store
store = open_store(load_settings(sys.argv[1], db_url=sys.argv[2] or None))
print(store.db.revision())
store.close()
"""


def test_processes_racing_to_create_the_store_all_succeed(settings: Settings) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN, str(settings.project_dir),
                          settings.db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    store = open_store(settings)
    try:
        head = store.db.head()
        assert {out.strip() for out, _ in results} == {head}
        assert store.db.revision() == head
    finally:
        store.close()
