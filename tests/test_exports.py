"""The public surface of ``modelyard`` is what the docs promise, and each name is documented."""

from __future__ import annotations

import modelyard

PROMISED = {
    "AlreadyExists",
    "Client",
    "Conflict",
    "Corrupted",
    "InvalidInput",
    "ModelyardError",
    "NotFound",
    "Settings",
    "StorageUnavailable",
    "Unauthorized",
    "ValidationFailed",
    "Yard",
    "__version__",
    "active_run",
    "autolog",
    "load_settings",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "open",
    "set_tag",
}


def test_all_is_the_promised_surface() -> None:
    assert set(modelyard.__all__) == PROMISED
    assert modelyard.__all__ == sorted(modelyard.__all__, key=str)


def test_every_public_name_has_a_docstring() -> None:
    for name in modelyard.__all__:
        if name.startswith("__"):
            continue
        assert getattr(modelyard, name).__doc__, f"modelyard.{name} has no docstring"


def test_importing_the_package_does_not_load_the_heavy_parts() -> None:
    import subprocess
    import sys

    code = ("import sys, modelyard, modelyard.errors; "
            "print(','.join(m for m in ('sklearn', 'fastapi', 'pandas') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == ""
