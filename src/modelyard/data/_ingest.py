"""Reading data from its sources: CSV and Parquet files, SQL queries, DataFrames.

Each reader returns a canonical frame (see :mod:`._canonical`) and a one-line description of
the source for people; every failure a user can cause becomes one clear
:class:`~modelyard.errors.ModelyardError`.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InvalidInput
from ._canonical import canonicalize

__all__ = ["FORMATS", "Loaded", "read_any", "read_frame", "read_path"]

FORMATS = ("csv", "parquet")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".parq": "parquet",
}
_COMPRESSION = {".gz", ".bz2", ".zip", ".xz", ".zst"}

Source = str | os.PathLike[str] | pd.DataFrame


@dataclass(frozen=True)
class Loaded:
    """A canonical frame and where it came from."""

    frame: pd.DataFrame
    source: str


def read_frame(frame: pd.DataFrame) -> Loaded:
    """Canonicalise a DataFrame the caller holds (it is not changed).

    Raises:
        InvalidInput: see :func:`canonicalize`.
    """
    return Loaded(canonicalize(frame), f"dataframe ({len(frame)} rows)")


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        lowered = fmt.lower()
        if lowered not in FORMATS:
            raise InvalidInput(
                f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}"
            )
        return lowered
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    found = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if found is None:
        shown = "".join(path.suffixes) or "no suffix"
        raise InvalidInput(
            f"cannot tell the format of {str(path)!r} ({shown}); use a .csv or .parquet file "
            "(.csv.gz and other compressed CSV work too), or pass format='csv' or "
            "format='parquet'"
        )
    return found


def read_path(path: str | os.PathLike[str], *, format: str | None = None) -> Loaded:
    """Read a CSV or Parquet file into a canonical frame.

    Args:
        path: the file. Compressed CSV (``.csv.gz``, ...) is read as CSV.
        format: ``"csv"`` or ``"parquet"``; inferred from the suffix when ``None``.

    Returns:
        The frame and a description of the source.

    Raises:
        InvalidInput: the file does not exist or is a directory, its format is unknown, or
            it is malformed, empty, has no rows or duplicate column names.
    """
    file = Path(path).expanduser()
    if not file.exists():
        raise InvalidInput(
            f"file {str(file)!r} does not exist; check the path (relative paths start at "
            f"{os.getcwd()!r})"
        )
    if file.is_dir():
        raise InvalidInput(
            f"{str(file)!r} is a directory; give one CSV or Parquet file"
        )
    fmt = _format_of(file, format)
    try:
        frame = _read_csv(file) if fmt == "csv" else _read_parquet(file)
        loaded = canonicalize(frame, parse_dates=fmt == "csv")
    except InvalidInput as exc:
        raise InvalidInput(f"{str(file)!r}: {exc.message}") from exc
    except PermissionError as exc:
        raise InvalidInput(f"cannot read {str(file)!r}: permission denied") from exc
    return Loaded(loaded, f"{fmt}:{file.resolve()}")


def _read_csv(file: Path) -> pd.DataFrame:
    sep = "\t" if ".tsv" in [s.lower() for s in file.suffixes] else ","
    try:
        header = pd.read_csv(file, sep=sep, header=None, nrows=1, dtype=str)
        frame = pd.read_csv(file, sep=sep)
    except pd.errors.EmptyDataError as exc:
        raise InvalidInput("the file is empty; a CSV needs a header line and rows") from exc
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise InvalidInput(
            f"malformed CSV ({detail}); every row needs as many fields as the header"
        ) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"cannot read as UTF-8 CSV text: {exc}") from exc
    names = [str(v) for v in header.iloc[0].tolist()] if len(header) else []
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidInput(
            f"duplicate column names in the header: {', '.join(map(repr, duplicated))}; "
            "rename them so each column is named once"
        )
    return frame


def _read_parquet(file: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(file)
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, PermissionError):
            raise
        raise InvalidInput(f"not a valid Parquet file ({exc})") from exc
    names = table.column_names
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidInput(
            f"duplicate column names: {', '.join(map(repr, duplicated))}; rename them so "
            "each column is named once"
        )
    try:
        frame: pd.DataFrame = table.to_pandas()
    except (pa.ArrowException, ValueError) as exc:
        raise InvalidInput(f"cannot convert the Parquet data to a table ({exc})") from exc
    return frame


def read_any(
    source: Source | None,
    *,
    format: str | None = None,
    sql: str | None = None,
    db_url: str | None = None,
) -> Loaded:
    """Dispatch to the reader for ``source`` (or for ``sql`` + ``db_url``).

    Raises:
        InvalidInput: both or neither of a source and a query were given, or the source has
            an unsupported type; plus whatever the reader raises.
    """
    if source is None:
        if sql is None or db_url is None:
            raise InvalidInput(
                "give data to ingest: a CSV or Parquet path, a DataFrame, or sql='SELECT ...' "
                "with db_url='sqlite:///file.db'"
            )
        from ._sql import read_sql  # it builds on Loaded, defined here

        return read_sql(sql, db_url)
    if sql is not None or db_url is not None:
        raise InvalidInput("give either a source or sql= and db_url=, not both")
    if isinstance(source, pd.DataFrame):
        if format is not None:
            raise InvalidInput("format= applies to files only, not to a DataFrame")
        return read_frame(source)
    if isinstance(source, str | os.PathLike):
        return read_path(source, format=format)
    kind: Any = type(source).__name__
    raise InvalidInput(
        f"cannot ingest a {kind}; give a CSV or Parquet path, a pandas DataFrame, or a SQL "
        "query with db_url"
    )
