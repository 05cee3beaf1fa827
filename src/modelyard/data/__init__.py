"""Datasets: ingestion, schemas, validation, immutable versions, splits."""

from ._datasets import Datasets as Datasets

__all__ = ["Datasets"]
