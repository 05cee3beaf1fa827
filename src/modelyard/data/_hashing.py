"""The content hash that addresses a dataset version.

The hash is taken over the *values*, never over Parquet bytes (which change with the writer's
version and settings): sha256 over a format tag, the row count, and for each column in order
its name, its logical type and the 64-bit hash pandas gives each of its values
(``pandas.util.hash_pandas_object``, vectorised, stable across platforms and versions).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from pandas.util import hash_pandas_object

from ._canonical import logical_type

__all__ = ["content_hash"]

_FORMAT = b"modelyard-dataset-v1\n"


def content_hash(frame: pd.DataFrame) -> str:
    """The sha256 hex digest of a canonical frame's content.

    Equal data gives an equal hash whether it came from CSV, Parquet, SQL or a DataFrame;
    any changed value, column name, column order or logical type gives another.

    Args:
        frame: a frame in canonical form (see :func:`~modelyard.data.canonicalize`).

    Returns:
        64 lower-case hex digits.

    Example:
        >>> content_hash(pd.DataFrame({"a": [1, 2]})) == content_hash(pd.DataFrame({"a": [1, 2]}))
        True
    """
    digest = hashlib.sha256(_FORMAT)
    digest.update(f"rows={len(frame)}\n".encode())
    for name in frame.columns:
        series = frame[name]
        encoded = str(name).encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
        tz = getattr(series.dtype, "tz", None)
        tag = logical_type(series) + (f"[{tz}]" if tz is not None else "")
        digest.update(tag.encode("utf-8") + b"\n")
        hashes = hash_pandas_object(series, index=False).to_numpy()
        digest.update(np.ascontiguousarray(hashes, dtype="<u8").tobytes())
    return digest.hexdigest()
