"""A bundled yard: one model version, alone in a small store of its own (a SQLite file and
an artifact folder), so that ``modelyard serve`` started on it serves exactly that version
with no access to the store it came from."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..config import load_settings
from ..errors import Corrupted, InvalidInput
from ..store import ModelVersion, open_store, sha256_file

__all__ = ["BUNDLE_DB", "export_bundle"]

BUNDLE_DB = "yard.db"


def export_bundle(
    version: ModelVersion,
    artifact: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    alias: str | None = None,
    source: str = "",
) -> Path:
    """Write ``version`` into a new store at ``out`` (``yard.db`` and ``artifacts/``),
    keeping its number, signature, metrics and metadata, with ``alias`` pointing at it.

    Args:
        version: the version to bundle.
        artifact: a local copy of its model file (checked against ``version.blob_sha256``).
        out: a folder that does not exist yet, or is empty.
        alias: the alias the bundle's reference names (``champion``), if any.
        source: where it came from, kept in the version's metadata (``extra["bundled_from"]``).

    Returns:
        The bundle folder.

    Raises:
        Corrupted: the artifact's bytes do not hash to the version's sha256.
        InvalidInput: ``out`` is not empty.

    Example:
        >>> export_bundle(v, yard.store.artifacts.open_verified(v.blob_sha256),  # doctest: +SKIP
        ...               "build/bundle", alias="champion")
    """
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInput(f"bundle folder {folder} is not empty; remove it or pick another")
    actual = sha256_file(artifact)
    if actual != version.blob_sha256:
        raise Corrupted(f"the file given for {version.ref} hashes to {actual[:12]}, not "
                        f"{version.blob_sha256[:12]}; read it through the artifact store")
    folder.mkdir(parents=True, exist_ok=True)
    settings = load_settings(folder, db_url=f"sqlite:///{folder / BUNDLE_DB}",
                             artifacts=str(folder / "artifacts"))
    store = open_store(settings)
    try:
        store.put_blob_file(artifact)
        extra = {**version.extra, "bundled_from": {
            "store": source, "run_id": version.run_id, "dataset": version.dataset_ref,
            "created_at": version.created_at}}
        copy = store.models.create_version(
            version.model, blob_sha256=version.blob_sha256, format=version.format,
            flavor=version.flavor, signature=version.signature, metrics=version.metrics,
            extra=extra, code_version=version.code_version, description=version.description)

        # The registry numbers versions from 1; the bundle keeps the source's number, so
        # answers, logs and metrics name the version users know. The store is ours alone.
        def renumber(session: Session) -> None:
            session.execute(text("UPDATE model_versions SET version = :n WHERE id = :id"),
                            {"n": version.version, "id": copy.id})
            session.execute(text("UPDATE models SET last_version = :n WHERE name = :name"),
                            {"n": version.version, "name": version.model})

        store.db.write(renumber)
        if alias:
            store.models.set_alias(version.model, alias, version.version,
                                   reason=f"bundled from {source or 'the source store'}")
    finally:
        store.close()
    # One self-contained file: fold the write-ahead log in and leave rollback journaling.
    with sqlite3.connect(folder / BUNDLE_DB) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    shutil.rmtree(folder / ".modelyard", ignore_errors=True)
    return folder
