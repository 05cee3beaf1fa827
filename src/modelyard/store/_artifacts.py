"""Content-addressed artifact storage over fsspec.

A blob lives at ``<root>/blobs/<sha[:2]>/<sha>``. It is written to ``<root>/tmp/`` first and
renamed into place, so a reader never sees half a file; every read checks the sha256.
Backends are chosen by URL scheme (``file``, ``memory``, ``s3``, ``gcs``, ...), as fsspec
resolves them.
"""

from __future__ import annotations

import abc
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec

from ..errors import Corrupted, InvalidInput, NotFound, StorageUnavailable

__all__ = ["ArtifactStore", "FsspecArtifactStore", "open_artifact_store"]

_CHUNK = 1 << 20


class ArtifactStore(abc.ABC):
    """Where artifact bytes live, addressed by their sha256."""

    url: str

    @abc.abstractmethod
    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a local file; return its sha256 and size. Storing it twice stores it once."""

    @abc.abstractmethod
    def open_verified(self, sha256: str) -> Path:
        """A local path holding the blob, its hash checked. Raises NotFound or Corrupted."""

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""

    @abc.abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove the blob; removing a missing blob is not an error."""

    @abc.abstractmethod
    def quarantine(self, sha256: str) -> None:
        """Move the blob aside, so readers no longer find it but it can be restored."""

    @abc.abstractmethod
    def restore(self, sha256: str) -> None:
        """Put a quarantined blob back (a writer stored it again meanwhile)."""

    @abc.abstractmethod
    def list_blobs(self) -> Iterator[tuple[str, float]]:
        """Every stored blob as (sha256, modified time in seconds since the epoch)."""

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes; return their sha256 and size."""
        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            tmp.write(data)
        try:
            return self.put_file(tmp.name)
        finally:
            os.unlink(tmp.name)

    def get_bytes(self, sha256: str) -> bytes:
        """The blob's bytes, hash checked."""
        return self.open_verified(sha256).read_bytes()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha(sha256: str) -> None:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidInput(f"{sha256!r} is not a sha256 hex digest (64 lower-case hex digits)")


class FsspecArtifactStore(ArtifactStore):
    """An artifact store on any fsspec filesystem.

    Remote blobs are cached in a local folder after their first verified read, so loading a
    model twice downloads it once.

    Args:
        url: a folder or fsspec URL, e.g. ``.modelyard/artifacts`` or ``s3://bucket/yard``.
        cache_dir: where verified copies of remote blobs are kept.
    """

    def __init__(self, url: str, *, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.url = url
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise InvalidInput(
                f"artifact store {url!r} cannot be opened: {exc}; use a folder or an fsspec "
                "URL whose backend is installed (s3fs for s3://, gcsfs for gs://)"
            ) from exc
        self.root = root.rstrip("/")
        self.is_local = "file" in _protocols(self.fs)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        try:
            self.fs.makedirs(self._join("blobs"), exist_ok=True)
            self.fs.makedirs(self._join("tmp"), exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"artifact store {url!r} is not writable: {exc}") from exc

    def _join(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def _blob_path(self, sha256: str) -> str:
        return self._join("blobs", sha256[:2], sha256)

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        sha = sha256_file(path)
        size = os.path.getsize(path)
        final = self._blob_path(sha)
        try:
            if self.fs.exists(final):
                return sha, size
            self.fs.makedirs(self._join("blobs", sha[:2]), exist_ok=True)
            tmp = self._join("tmp", f"{uuid.uuid4().hex}.part")
            if self.is_local:
                shutil.copyfile(path, tmp)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, final)
            else:
                self.fs.put_file(str(path), tmp)
                self.fs.mv(tmp, final)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write to artifact store {self.url!r}: {exc}") from exc
        return sha, size

    def open_verified(self, sha256: str) -> Path:
        _check_sha(sha256)
        if self.cache_dir is not None:
            cached = self.cache_dir / sha256
            if cached.exists() and sha256_file(cached) == sha256:
                return cached
        src = self._blob_path(sha256)
        try:
            if not self.fs.exists(src):
                raise NotFound(
                    f"artifact {sha256[:12]} is missing from {self.url!r}; it was deleted or "
                    "the store points elsewhere (check MODELYARD_ARTIFACTS)"
                )
            if self.is_local:
                local = Path(src)
            else:
                target_dir = self.cache_dir or Path(tempfile.gettempdir()) / "modelyard-cache"
                target_dir.mkdir(parents=True, exist_ok=True)
                part = target_dir / f"{sha256}.{uuid.uuid4().hex}.part"
                self.fs.get_file(src, str(part))
                local = target_dir / sha256
                os.replace(part, local)
        except OSError as exc:
            raise StorageUnavailable(f"cannot read artifact store {self.url!r}: {exc}") from exc
        actual = sha256_file(local)
        if actual != sha256:
            raise Corrupted(
                f"artifact {sha256[:12]} in {self.url!r} is corrupted (its bytes hash to "
                f"{actual[:12]}); restore it from a backup or register the model again"
            )
        return local

    def exists(self, sha256: str) -> bool:
        _check_sha(sha256)
        return bool(self.fs.exists(self._blob_path(sha256)))

    def quarantine(self, sha256: str) -> None:
        _check_sha(sha256)
        src = self._blob_path(sha256)
        if self.fs.exists(src):
            self.fs.makedirs(self._join("trash"), exist_ok=True)
            self.fs.mv(src, self._join("trash", sha256))

    def restore(self, sha256: str) -> None:
        _check_sha(sha256)
        src = self._join("trash", sha256)
        if self.fs.exists(src):
            self.fs.makedirs(self._join("blobs", sha256[:2]), exist_ok=True)
            self.fs.mv(src, self._blob_path(sha256))

    def delete(self, sha256: str) -> None:
        _check_sha(sha256)
        for path in (self._blob_path(sha256), self._join("trash", sha256)):
            try:
                if self.fs.exists(path):
                    self.fs.rm(path)
            except FileNotFoundError:
                pass
        if self.cache_dir is not None:
            (self.cache_dir / sha256).unlink(missing_ok=True)

    def list_blobs(self) -> Iterator[tuple[str, float]]:
        base = self._join("blobs")
        for info in self.fs.find(base, detail=True).values():
            name = str(info["name"]).rsplit("/", 1)[-1]
            if len(name) == 64:
                yield name, _mtime(info)

    def clean_tmp(self, older_than_s: float) -> int:
        """Remove half-written uploads left by crashed writers; return how many."""
        removed = 0
        cutoff = time.time() - older_than_s
        for info in self.fs.find(self._join("tmp"), detail=True).values():
            if _mtime(info) <= cutoff:
                self.fs.rm(info["name"])
                removed += 1
        return removed


def _mtime(info: dict[str, Any]) -> float:
    for key in ("mtime", "LastModified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return 0.0


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def open_artifact_store(
    url: str, *, cache_dir: str | os.PathLike[str] | None = None
) -> ArtifactStore:
    """Open the artifact store at ``url`` (a folder or any fsspec URL)."""
    return FsspecArtifactStore(url, cache_dir=cache_dir)
