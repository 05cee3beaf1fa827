"""The datasets API of a yard: ``yard.datasets``."""

from __future__ import annotations

import builtins
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InvalidInput, NotFound
from ..store import Dataset, DatasetVersion, Store
from ._hashing import content_hash
from ._ingest import Source, read_any, read_path
from ._refs import check_name, describe_versions, parse_ref
from ._schema import Schema, infer_schema
from ._split import split_frame
from ._validate import ValidationReport, validate_frame

__all__ = ["DatasetRef", "Datasets"]

DatasetRef = str | DatasetVersion
"""A dataset version: ``"name"``, ``"name@latest"``, ``"name@3"`` or the record itself."""


class Datasets:
    """Ingest, version, load, validate and split datasets.

    Versions are immutable and addressed by the hash of their content: ingesting the same
    data twice gives the same version and stores nothing new.

    Args:
        store: the yard's store.

    Example:
        >>> yard = modelyard.open()  # doctest: +SKIP
        >>> v = yard.datasets.ingest("transactions.csv", name="fraud")  # doctest: +SKIP
        >>> v.ref, v.n_rows  # doctest: +SKIP
        ('fraud@1', 284807)
        >>> train, test = yard.datasets.split("fraud", stratify="is_fraud")  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._repo = store.datasets

    # -- ingest ---------------------------------------------------------------------------

    def ingest(
        self,
        source: Source | None = None,
        *,
        name: str,
        description: str = "",
        format: str | None = None,
        sql: str | None = None,
        db_url: str | None = None,
        schema: Schema | Mapping[str, Any] | None = None,
    ) -> DatasetVersion:
        """Store data as a new immutable version of a dataset.

        The data is canonicalised (columns in order, one dtype per logical type), hashed
        over its values, written once as Parquet and recorded as version 1, 2, 3...
        Identical data gives back the existing version and stores nothing.

        Args:
            source: a CSV or Parquet path, or a pandas DataFrame; ``None`` with ``sql``.
            name: the dataset name (letters, digits, ``.``, ``_``, ``-``; up to 100).
            description: what the dataset is; replaces the old one when given.
            format: ``"csv"`` or ``"parquet"`` when the suffix does not say.
            sql: a query to run instead of reading a file (needs ``db_url``).
            db_url: the SQLAlchemy URL the query runs against.
            schema: rules the data must satisfy (a :class:`Schema` or its dict); nothing is
                stored when it breaks them.

        Returns:
            The new version, or the existing one with the same content.

        Raises:
            InvalidInput: a bad name, format, file (missing, malformed, empty, no rows,
                duplicate column names) or query.
            ValidationFailed: the data breaks ``schema``; carries every violation.
            StorageUnavailable: the store or the query's database cannot be reached.

        Example:
            >>> v = yard.datasets.ingest(df, name="iris")  # doctest: +SKIP
            >>> yard.datasets.ingest(df, name="iris") == v  # doctest: +SKIP
            True
        """
        check_name(name)
        loaded = read_any(source, format=format, sql=sql, db_url=db_url)
        frame = loaded.frame
        if schema is not None:
            validate_frame(frame, _as_schema(schema), against="the given schema").raise_if_failed()
        digest = content_hash(frame)
        existing = self._repo.find_by_hash(name, digest)
        if existing is not None:
            return existing
        inferred = infer_schema(frame)
        blob, _ = self._put_parquet(frame)
        version, _created = self._repo.add_version(
            name=name,
            description=description,
            content_hash=digest,
            blob_sha256=blob,
            n_rows=len(frame),
            n_columns=frame.shape[1],
            schema=inferred.to_dict(),
            source=loaded.source,
        )
        return version

    def ingest_sql(
        self,
        query: str,
        db_url: str,
        *,
        name: str,
        description: str = "",
        schema: Schema | Mapping[str, Any] | None = None,
    ) -> DatasetVersion:
        """Ingest the rows a SQL query returns; see :meth:`ingest`.

        Args:
            query: the query, e.g. ``"SELECT * FROM orders WHERE day >= '2024-01-01'"``.
            db_url: any SQLAlchemy URL, e.g. ``sqlite:///shop.db``.
            name: the dataset name.
            description: what the dataset is.
            schema: rules the rows must satisfy.

        Returns:
            The new or existing version.

        Raises:
            InvalidInput: a bad URL or query, a missing ``sqlite:///`` file, or no rows.
            StorageUnavailable: the database cannot be reached.

        Example:
            >>> yard.datasets.ingest_sql(
            ...     "SELECT * FROM t", "sqlite:///x.db", name="t")  # doctest: +SKIP
        """
        return self.ingest(
            None, name=name, description=description, sql=query, db_url=db_url, schema=schema
        )

    def _put_parquet(self, frame: pd.DataFrame) -> tuple[str, int]:
        fd, tmp = tempfile.mkstemp(suffix=".parquet", prefix="modelyard-")
        os.close(fd)
        try:
            frame.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
            return self._store.put_blob_file(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)

    # -- read -----------------------------------------------------------------------------

    def get(self, ref: DatasetRef) -> DatasetVersion:
        """A dataset version by reference.

        Args:
            ref: ``"name"`` or ``"name@latest"`` (the newest), ``"name@3"``, or a version.

        Returns:
            The version's record (with its schema, row count and content hash).

        Raises:
            NotFound: no such dataset or version; the message says what exists.
            InvalidInput: a malformed reference.

        Example:
            >>> yard.datasets.get("fraud@2").n_rows  # doctest: +SKIP
            1000
        """
        if isinstance(ref, DatasetVersion):
            ref = ref.ref
        name, number = parse_ref(ref)
        found = self._repo.get_version(name, number)
        if found is not None:
            return found
        numbers = self._repo.version_numbers(name)
        if numbers and number is not None:
            raise NotFound(
                f"no version {number} of dataset {name!r}; it has versions "
                f"{describe_versions(numbers)}"
            )
        if self._repo.get_dataset(name) is not None:
            raise NotFound(f"dataset {name!r} has no versions; ingest data into it first")
        raise NotFound(self._no_dataset(name))

    def _no_dataset(self, name: str) -> str:
        names = [d.name for d in self._repo.list_datasets()]
        if not names:
            return f"no dataset {name!r}; there are no datasets yet: ingest one first"
        shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        return f"no dataset {name!r}; datasets: {shown}"

    def load(self, ref: DatasetRef, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The data of a dataset version, read from its hash-checked blob.

        Args:
            ref: the version (see :meth:`get`).
            columns: only these columns, in this order.

        Returns:
            The frame exactly as it was ingested (canonical dtypes, a fresh index).

        Raises:
            NotFound: no such version, or its blob is missing.
            InvalidInput: an unknown column.
            Corrupted: the blob's bytes no longer match their hash.

        Example:
            >>> yard.datasets.load("fraud@2", columns=["amount"]).shape  # doctest: +SKIP
            (1000, 1)
        """
        version = self.get(ref)
        wanted: list[str] | None = None
        if columns is not None:
            if isinstance(columns, str):
                columns = [columns]
            known = [c["name"] for c in version.schema.get("columns", [])]
            unknown = [c for c in columns if c not in known]
            if unknown:
                raise InvalidInput(
                    f"dataset {version.ref!r} has no column(s) {', '.join(map(repr, unknown))}; "
                    f"columns: {', '.join(known)}"
                )
            wanted = list(columns)
        path = self._store.artifacts.open_verified(version.blob_sha256)
        frame = pd.read_parquet(path, columns=wanted, engine="pyarrow")
        return frame

    def list(self) -> builtins.list[Dataset]:
        """Every dataset, by name, with its newest version number.

        Example:
            >>> [d.name for d in yard.datasets.list()]  # doctest: +SKIP
            ['fraud', 'iris']
        """
        return self._repo.list_datasets()

    def versions(self, name: str) -> builtins.list[DatasetVersion]:
        """Every version of a dataset, oldest first.

        Raises:
            NotFound: no such dataset.

        Example:
            >>> [v.version for v in yard.datasets.versions("fraud")]  # doctest: +SKIP
            [1, 2, 3]
        """
        check_name(name)
        found = self._repo.list_versions(name)
        if not found and self._repo.get_dataset(name) is None:
            raise NotFound(self._no_dataset(name))
        return found

    def schema(self, ref: DatasetRef) -> Schema:
        """The schema of a dataset version, inferred when it was ingested.

        Example:
            >>> yard.datasets.schema("fraud")["amount"].max  # doctest: +SKIP
            25691.16
        """
        return Schema.from_dict(self.get(ref).schema)

    # -- validate and split ---------------------------------------------------------------

    def validate(
        self,
        data: pd.DataFrame | str | os.PathLike[str],
        against: DatasetRef | Schema | Mapping[str, Any],
    ) -> ValidationReport:
        """Check data against a dataset version's schema (or a schema), reporting every
        violation.

        Args:
            data: a DataFrame, or a CSV or Parquet path.
            against: a dataset reference, a :class:`Schema` or a schema dict.

        Returns:
            The report; call ``report.raise_if_failed()`` to stop on violations.

        Raises:
            NotFound: ``against`` names a missing dataset version.
            InvalidInput: the file is missing or cannot be read.

        Example:
            >>> report = yard.datasets.validate(new_rows, "fraud@3")  # doctest: +SKIP
            >>> report.ok  # doctest: +SKIP
            False
        """
        if isinstance(against, Schema):
            schema, label = against, "the schema"
        elif isinstance(against, str | DatasetVersion):
            version = self.get(against)
            schema, label = Schema.from_dict(version.schema), version.ref
        elif isinstance(against, Mapping):
            schema, label = Schema.from_dict(against), "the schema"
        else:
            raise InvalidInput(
                f"validate against a dataset reference or a Schema, not {type(against).__name__}"
            )
        if isinstance(data, pd.DataFrame):
            frame = data
        elif isinstance(data, str | os.PathLike):
            frame = read_path(data).frame
        else:
            raise InvalidInput(
                f"validate a DataFrame or a CSV or Parquet path, not {type(data).__name__}"
            )
        return validate_frame(frame, schema, against=label)

    def split(
        self,
        ref_or_df: DatasetRef | pd.DataFrame,
        *,
        test_size: float = 0.2,
        validation_size: float = 0.0,
        seed: int = 0,
        stratify: str | None = None,
        time_column: str | None = None,
    ) -> tuple[pd.DataFrame, ...]:
        """Split a dataset version (or a frame) into train and test, and validation.

        Args:
            ref_or_df: a dataset reference or a DataFrame.
            test_size: fraction of rows for test.
            validation_size: fraction for validation (0: none).
            seed: the same seed gives the same rows.
            stratify: a column whose class proportions each split keeps.
            time_column: oldest rows train, newest test.

        Returns:
            ``(train, test)``, or ``(train, validation, test)`` with a validation size.

        Raises:
            InvalidInput: bad sizes or columns; NotFound: no such version.

        Example:
            >>> train, val, test = yard.datasets.split(
            ...     "fraud", validation_size=0.1, stratify="is_fraud", seed=7)  # doctest: +SKIP
        """
        frame = ref_or_df if isinstance(ref_or_df, pd.DataFrame) else self.load(ref_or_df)
        return split_frame(
            frame,
            test_size=test_size,
            validation_size=validation_size,
            seed=seed,
            stratify=stratify,
            time_column=time_column,
        )

    # -- lineage --------------------------------------------------------------------------

    def runs_using(self, ref: DatasetRef) -> builtins.list[str]:
        """Ids of the runs that used a dataset version, oldest first.

        Example:
            >>> yard.datasets.runs_using("fraud@2")  # doctest: +SKIP
            ['3f2a9c0d...']
        """
        return self._repo.runs_using(self.get(ref).id)

    def models_using(self, ref: DatasetRef) -> builtins.list[str]:
        """Model versions (``model/versions/N``) trained on a dataset version.

        Example:
            >>> yard.datasets.models_using("fraud@2")  # doctest: +SKIP
            ['fraud-detector/versions/1']
        """
        return self._repo.models_using(self.get(ref).id)

    def delete_version(self, ref: DatasetRef) -> None:
        """Delete a dataset version nothing uses; :meth:`Yard.gc` later frees its data.

        Args:
            ref: the version, with its number (``"fraud@1"``): a bare name is refused so
                that no one deletes the newest version by accident.

        Raises:
            NotFound: no such version.
            InvalidInput: the reference has no version number.
            Conflict: a run or model version uses it (the message names them).

        Example:
            >>> yard.datasets.delete_version("fraud@1")  # doctest: +SKIP
        """
        if isinstance(ref, str) and parse_ref(ref)[1] is None:
            raise InvalidInput(
                f"say which version of {parse_ref(ref)[0]!r} to delete, e.g. "
                f"'{parse_ref(ref)[0]}@1'"
            )
        self._repo.delete_version(self.get(ref).id)


def _as_schema(schema: Schema | Mapping[str, Any]) -> Schema:
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, Mapping):
        return Schema.from_dict(schema)
    raise InvalidInput(f"schema must be a Schema or a dict, not {type(schema).__name__}")
