"""The artifact store: content addressing, atomic writes, verified reads, gc."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.errors import Corrupted, InvalidInput, NotFound
from modelyard.store import FsspecArtifactStore, Store


def test_put_is_content_addressed_and_stored_once(tmp_path: Path) -> None:
    arts = FsspecArtifactStore(str(tmp_path / "a"))
    sha1, size = arts.put_bytes(b"weights")
    sha2, _ = arts.put_bytes(b"weights")
    assert sha1 == sha2 and size == 7
    assert [s for s, _ in arts.list_blobs()] == [sha1]
    assert arts.get_bytes(sha1) == b"weights"


def test_a_tampered_blob_is_refused(tmp_path: Path) -> None:
    arts = FsspecArtifactStore(str(tmp_path / "a"))
    sha, _ = arts.put_bytes(b"model bytes")
    blob = tmp_path / "a" / "blobs" / sha[:2] / sha
    blob.write_bytes(b"evil bytes!")
    with pytest.raises(Corrupted, match="corrupted"):
        arts.get_bytes(sha)


def test_missing_and_malformed_addresses_are_clear_errors(tmp_path: Path) -> None:
    arts = FsspecArtifactStore(str(tmp_path / "a"))
    with pytest.raises(NotFound, match="missing"):
        arts.get_bytes("0" * 64)
    with pytest.raises(InvalidInput, match="sha256"):
        arts.get_bytes("../../etc/passwd")


def test_memory_filesystem_works_as_a_remote_store(tmp_path: Path) -> None:
    arts = FsspecArtifactStore("memory://yard-test", cache_dir=tmp_path / "cache")
    sha, _ = arts.put_bytes(b"remote")
    assert arts.get_bytes(sha) == b"remote"
    assert (tmp_path / "cache" / sha).exists()


def test_gc_frees_unreferenced_blobs_only_after_grace(store: Store) -> None:
    sha, _ = store.put_blob_bytes(b"orphan")
    kept = store.gc(grace_s=3600)
    assert kept.blobs_deleted == 0 and store.artifacts.exists(sha)
    report = store.gc(grace_s=0)
    assert report.blobs_deleted == 1 and report.bytes_freed == 6
    assert not store.artifacts.exists(sha)
