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
    "load_settings",
    "open",
}


def test_all_is_the_promised_surface() -> None:
    assert set(modelyard.__all__) == PROMISED
    assert modelyard.__all__ == sorted(modelyard.__all__, key=str)


def test_every_public_name_has_a_docstring() -> None:
    for name in modelyard.__all__:
        if name.startswith("__"):
            continue
        assert getattr(modelyard, name).__doc__, f"modelyard.{name} has no docstring"
