"""Datasets: ingestion, schemas, validation, immutable versions, splits."""

from ._canonical import LOGICAL_TYPES as LOGICAL_TYPES
from ._canonical import canonicalize as canonicalize
from ._datasets import DatasetRef as DatasetRef
from ._datasets import Datasets as Datasets
from ._hashing import content_hash as content_hash
from ._refs import parse_ref as parse_ref
from ._schema import ColumnSchema as ColumnSchema
from ._schema import Schema as Schema
from ._schema import infer_schema as infer_schema
from ._split import split_frame as split_frame
from ._validate import RULES as RULES
from ._validate import ValidationReport as ValidationReport
from ._validate import Violation as Violation
from ._validate import validate_frame as validate_frame

__all__ = [
    "LOGICAL_TYPES",
    "RULES",
    "ColumnSchema",
    "DatasetRef",
    "Datasets",
    "Schema",
    "ValidationReport",
    "Violation",
    "canonicalize",
    "content_hash",
    "infer_schema",
    "parse_ref",
    "split_frame",
    "validate_frame",
]
