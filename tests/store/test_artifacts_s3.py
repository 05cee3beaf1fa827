"""Artifacts on a real S3 API (moto in server mode on 127.0.0.1): uploads are all or nothing,
a blob is committed only by the metadata written after it, and every read checks the hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sklearn.ensemble import RandomForestClassifier

import modelyard
from _s3 import S3, CuttingProxy, s3_bucket, s3_server  # noqa: F401
from _serving import cancer_frame
from modelyard.errors import Corrupted, NotFound, StorageUnavailable
from modelyard.store import FsspecArtifactStore, open_artifact_store

pytestmark = pytest.mark.s3


def blob_keys(bucket: S3) -> list[str]:
    return sorted(p for p in bucket.fs().find(bucket.bucket) if not p.endswith("/"))


def test_blobs_go_to_their_key_once_with_their_hash(s3: S3, tmp_path: Path) -> None:
    store = open_artifact_store(s3.url(), cache_dir=tmp_path / "cache")  # AWS_* from the env
    data = b"weights " * 10_000
    sha, size = store.put_bytes(data)
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.put_bytes(data) == (sha, size)
    key = f"{s3.bucket}/yard/blobs/{sha[:2]}/{sha}"
    assert blob_keys(s3) == [key]  # nothing beside it: no temporary object, no marker
    assert s3.fs().metadata(key)["sha256"] == sha
    assert store.exists(sha) and [b for b, _ in store.list_blobs()] == [sha]
    assert store.get_bytes(sha) == data
    assert (tmp_path / "cache" / sha).read_bytes() == data  # verified, then cached


def test_a_missing_bucket_or_endpoint_is_one_clear_error(s3: S3, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StorageUnavailable, match="bucket 'no-such-bucket' does not exist"):
        open_artifact_store("s3://no-such-bucket/yard")
    store = open_artifact_store(s3.url())
    s3.fs().rm(s3.bucket, recursive=True)
    with pytest.raises(StorageUnavailable, match="AWS_ENDPOINT_URL"):
        store.put_bytes(b"x")


def test_an_interrupted_upload_leaves_no_committed_artifact(
    s3: S3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = CuttingProxy(s3.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    X, y = cancer_frame()
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    try:
        with modelyard.open(tmp_path, artifacts=s3.url()) as yard:
            proxy.cut_after = 65_536  # the model file (~440 kB) is larger: its PUT dies mid-body
            with pytest.raises(StorageUnavailable, match="cannot write to artifact store"):
                yard.models.register("cancer", model, input_example=X.head(5))
            assert proxy.cuts >= 1
            assert blob_keys(s3) == []  # no object, whole or partial
            with pytest.raises(NotFound, match="no models are registered"):
                yard.models.get("cancer")
            proxy.cut_after = None
            version = yard.models.register("cancer", model, input_example=X.head(5))
            assert version.version == 1
            assert (yard.models.load("cancer").predict(X.head(20)) == y.head(20)).mean() > 0.8
    finally:
        proxy.close()


def test_an_upload_nothing_committed_is_collected(s3: S3, tmp_path: Path) -> None:
    """A writer that died after its upload but before its metadata left a blob that no
    reader can reach; gc frees it (and aborts multipart uploads never completed)."""
    with modelyard.open(tmp_path, artifacts=s3.url()) as yard:
        kept = yard.datasets.ingest(cancer_frame()[0], name="cancer").blob_sha256
        orphan, _ = yard.store.artifacts.put_bytes(b"uploaded, never committed")
        fs = s3.fs()
        upload = fs.call_s3("create_multipart_upload", Bucket=s3.bucket,
                            Key=f"yard/blobs/ab/{'ab' * 32}")
        fs.call_s3("upload_part", Bucket=s3.bucket, Key=f"yard/blobs/ab/{'ab' * 32}",
                   UploadId=upload["UploadId"], PartNumber=1, Body=b"half")
        report = yard.gc(grace_s=0)
        assert not yard.store.artifacts.exists(orphan)
        assert report.orphan_files_deleted >= 1
        assert fs.call_s3("list_multipart_uploads", Bucket=s3.bucket).get("Uploads", []) == []
        assert yard.store.artifacts.exists(kept)


def test_a_corrupted_object_is_refused_by_its_hash(s3: S3, tmp_path: Path) -> None:
    X, y = cancer_frame()
    with modelyard.open(tmp_path, artifacts=s3.url()) as yard:
        model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
        version = yard.models.register("cancer", model, input_example=X.head(5))
        key = f"{s3.bucket}/yard/blobs/{version.blob_sha256[:2]}/{version.blob_sha256}"
        good = s3.fs().cat_file(key)
        s3.fs().pipe_file(key, good[:-10] + b"0123456789")  # bit rot, a bad copy, tampering
        cache = yard.settings.state_dir / "cache"
        for cached in cache.glob("*"):
            cached.unlink()
        with pytest.raises(Corrupted, match=f"artifact {version.blob_sha256[:12]}"):
            yard.models.load("cancer@1")
        assert list(cache.glob("*")) == []  # the bad bytes never reached the cache
        s3.fs().pipe_file(key, good)
        assert len(yard.models.load("cancer@1").predict(X.head(3))) == 3


def test_storage_options_reach_the_filesystem(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    store = FsspecArtifactStore(s3.url("opts"), storage_options={"endpoint_url": s3.endpoint})
    sha, _ = store.put_bytes(b"through options")
    assert blob_keys(s3) == [f"{s3.bucket}/opts/blobs/{sha[:2]}/{sha}"]
