"""The model registry: versions with lineage, signatures, aliases, safe formats."""

from ._models import Models as Models

__all__ = ["Models"]
