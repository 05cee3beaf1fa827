"""Tracked runs: params, metrics, tags, artifacts, environment."""

from ._runs import Runs as Runs

__all__ = ["Runs"]
