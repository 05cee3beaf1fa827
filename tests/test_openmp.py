"""Importing modelyard makes OpenMP's waiting threads sleep, unless the user chose otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = ("import os, modelyard, sklearn.ensemble; "
         "print(os.environ.get('OMP_WAIT_POLICY'))")


@pytest.mark.parametrize(("given", "seen"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_wait_policy_defaults_to_passive_and_a_set_value_wins(given: str | None,
                                                                 seen: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == seen
