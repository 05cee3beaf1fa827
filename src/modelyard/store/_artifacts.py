"""Content-addressed artifact storage over fsspec.

A blob lives at ``<root>/blobs/<sha[:2]>/<sha>``; every read checks its sha256, and a remote
blob enters the local cache only once its hash matched. Backends are chosen by URL scheme
(``file``, ``memory``, ``s3``, ``gs``, ...), as fsspec resolves them.

No reader ever sees half a blob. On a file system a blob is written to ``<root>/tmp/`` and
renamed into place. Object stores have no rename, and need none: an object appears only when
its PUT (or multipart upload) completes, so a blob is uploaded straight to its key, its size
checked after; an interrupted upload leaves no object (a dangling multipart upload is aborted
by ``gc``). Either way a blob is *committed* only by the metadata row written after it is
stored, and readers only ever follow metadata.

S3 is reached through s3fs (the ``s3`` extra), which reads the usual AWS variables:
``AWS_ENDPOINT_URL`` (MinIO, Ceph, a test server), ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` (or a profile, or the pod's role), ``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

import abc
import errno
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import fsspec

from ..errors import Corrupted, InvalidInput, ModelyardError, NotFound, StorageUnavailable

__all__ = ["ArtifactStore", "FsspecArtifactStore", "open_artifact_store"]

_CHUNK = 1 << 20
# Backends whose uploads are all-or-nothing: an object exists only once fully written.
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
_S3 = frozenset({"s3", "s3a"})
# Libraries whose exceptions mean "the store could not be reached or refused us".
_STORAGE_LIBRARIES = frozenset({"botocore", "aiobotocore", "s3fs", "aiohttp", "gcsfs",
                                "google", "adlfs", "azure", "urllib3", "requests"})


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
        storage_options: keyword arguments of the fsspec filesystem, e.g.
            ``{"endpoint_url": "http://127.0.0.1:9000"}`` for s3fs (the ``AWS_*`` environment
            variables are read without them).

    Raises:
        InvalidInput: the URL's backend is not installed.
        StorageUnavailable: the store cannot be reached or written, or its bucket is missing.

    Example:
        >>> store = FsspecArtifactStore("s3://team-bucket/yard")  # doctest: +SKIP
        >>> sha, size = store.put_bytes(b"weights")  # doctest: +SKIP
    """

    def __init__(self, url: str, *, cache_dir: str | os.PathLike[str] | None = None,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = url
        options = dict(storage_options or {})
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        if protocol in _S3:
            # Other writers change the bucket: never answer exists() from a stale listing.
            options.setdefault("use_listings_cache", False)
            # A client of its own, built from the environment as it is now (fsspec would
            # otherwise hand back an instance made under an older AWS_ENDPOINT_URL).
            options.setdefault("skip_instance_cache", True)
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **options)
        except (ImportError, ValueError, TypeError) as exc:
            raise InvalidInput(
                f"artifact store {url!r} cannot be opened: {exc}; use a folder or an fsspec "
                "URL whose backend is installed (pip install 'modelyard[s3]' for s3://, gcsfs "
                "for gs://)"
            ) from exc
        self.root = root.rstrip("/")
        protocols = _protocols(self.fs)
        self.is_local = "file" in protocols
        self.is_object_store = bool(_OBJECT_STORES & set(protocols))
        self._s3 = bool(_S3 & set(protocols))
        self.cache_dir = Path(cache_dir) if cache_dir else None
        with self._guard("open"):
            if self.is_object_store:
                bucket = self.root.split("/", 1)[0]
                if not self.fs.exists(bucket):
                    raise StorageUnavailable(
                        f"artifact store {url!r}: bucket {bucket!r} does not exist or these "
                        f"credentials cannot see it{self._endpoint_hint()}; create it first "
                        f"(e.g. aws s3 mb s3://{bucket}) or fix MODELYARD_ARTIFACTS"
                    )
            else:
                self.fs.makedirs(self._join("blobs"), exist_ok=True)
                self.fs.makedirs(self._join("tmp"), exist_ok=True)

    def _endpoint_hint(self) -> str:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return f" (endpoint {endpoint})" if self._s3 and endpoint else ""

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn the backend's failures (OSError, botocore's errors) into StorageUnavailable."""
        try:
            yield
        except ModelyardError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                self._unavailable(action, exc)
            raise StorageUnavailable(
                f"artifact store {self.url!r} is full ({os.strerror(exc.errno)}) while "
                f"trying to {action} it; nothing half-written was kept or registered: free "
                "space there (or point MODELYARD_ARTIFACTS at a larger store) and try again"
            ) from exc
        except Exception as exc:
            library = type(exc).__module__.split(".", 1)[0]
            if library not in _STORAGE_LIBRARIES:
                raise
            self._unavailable(action, exc)

    def _unavailable(self, action: str, exc: Exception) -> NoReturn:
        """Raise StorageUnavailable for ``exc``, a failure of the store's backend."""
        hint = ("check AWS_ENDPOINT_URL, the credentials (AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, a profile or a role) and the bucket"
                if self._s3 else "check MODELYARD_ARTIFACTS and that the store is reachable")
        raise StorageUnavailable(
            f"cannot {action} artifact store {self.url!r}{self._endpoint_hint()}: "
            f"{type(exc).__name__}: {exc}; {hint}"
        ) from exc

    def _join(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def _blob_path(self, sha256: str) -> str:
        return self._join("blobs", sha256[:2], sha256)

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        sha = sha256_file(path)
        size = os.path.getsize(path)
        final = self._blob_path(sha)
        with self._guard("write to"):
            if self.fs.exists(final):
                return sha, size
            if self.is_local:
                self.fs.makedirs(self._join("blobs", sha[:2]), exist_ok=True)
                tmp = self._join("tmp", f"{uuid.uuid4().hex}.part")
                try:
                    shutil.copyfile(path, tmp)
                    with open(tmp, "rb+") as fh:
                        os.fsync(fh.fileno())
                    os.replace(tmp, final)
                except BaseException:  # a full disk: leave no partial copy behind
                    Path(tmp).unlink(missing_ok=True)
                    raise
            elif self.is_object_store:
                extra = {"Metadata": {"sha256": sha}} if self._s3 else {}
                self.fs.put_file(str(path), final, **extra)
                stored = int(self.fs.info(final)["size"])
                if stored != size:
                    self.fs.rm(final)
                    raise StorageUnavailable(
                        f"artifact {sha[:12]} reached {self.url!r} with {stored} of {size} "
                        "bytes and was removed; store it again"
                    )
            else:
                tmp = self._join("tmp", f"{uuid.uuid4().hex}.part")
                self.fs.makedirs(self._join("blobs", sha[:2]), exist_ok=True)
                self.fs.put_file(str(path), tmp)
                self.fs.mv(tmp, final)
        return sha, size

    def open_verified(self, sha256: str) -> Path:
        _check_sha(sha256)
        if self.cache_dir is not None:
            cached = self.cache_dir / sha256
            if cached.exists() and sha256_file(cached) == sha256:
                return cached
        src = self._blob_path(sha256)
        part: Path | None = None
        with self._guard("read"):
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
                local = part
        actual = sha256_file(local)
        if actual != sha256:
            if part is not None:
                part.unlink(missing_ok=True)
            raise Corrupted(
                f"artifact {sha256[:12]} in {self.url!r} is corrupted (its bytes hash to "
                f"{actual[:12]}); restore it from a backup or register the model again"
            )
        if part is not None:
            local = part.with_name(sha256)
            os.replace(part, local)
        return local

    def exists(self, sha256: str) -> bool:
        _check_sha(sha256)
        with self._guard("read"):
            return bool(self.fs.exists(self._blob_path(sha256)))

    def quarantine(self, sha256: str) -> None:
        _check_sha(sha256)
        src = self._blob_path(sha256)
        with self._guard("write to"):
            if self.fs.exists(src):
                if not self.is_object_store:
                    self.fs.makedirs(self._join("trash"), exist_ok=True)
                self.fs.mv(src, self._join("trash", sha256))

    def restore(self, sha256: str) -> None:
        _check_sha(sha256)
        src = self._join("trash", sha256)
        with self._guard("write to"):
            if self.fs.exists(src):
                if not self.is_object_store:
                    self.fs.makedirs(self._join("blobs", sha256[:2]), exist_ok=True)
                self.fs.mv(src, self._blob_path(sha256))

    def delete(self, sha256: str) -> None:
        _check_sha(sha256)
        with self._guard("delete from"):
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
        with self._guard("list"):
            found = self.fs.find(base, detail=True).values()
        for info in found:
            name = str(info["name"]).rsplit("/", 1)[-1]
            if len(name) == 64:
                yield name, _mtime(info)

    def clean_tmp(self, older_than_s: float) -> int:
        """Remove half-written uploads left by crashed writers (files in ``tmp/``, and on S3
        multipart uploads never completed); return how many."""
        removed = 0
        cutoff = time.time() - older_than_s
        with self._guard("clean"):
            for info in self.fs.find(self._join("tmp"), detail=True).values():
                if _mtime(info) <= cutoff:
                    self.fs.rm(info["name"])
                    removed += 1
            if self._s3:
                removed += self._abort_uploads(cutoff)
        return removed

    def _abort_uploads(self, cutoff: float) -> int:
        bucket, _, prefix = self.root.partition("/")
        answer = self.fs.call_s3("list_multipart_uploads", Bucket=bucket,
                                 Prefix=f"{prefix}/blobs/" if prefix else "blobs/")
        aborted = 0
        for upload in answer.get("Uploads", []):
            if upload["Initiated"].timestamp() <= cutoff:
                self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=upload["Key"],
                                UploadId=upload["UploadId"])
                aborted += 1
        return aborted


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
    url: str, *, cache_dir: str | os.PathLike[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ArtifactStore:
    """Open the artifact store at ``url`` (a folder or any fsspec URL).

    Args:
        url: ``.modelyard/artifacts``, ``s3://bucket/prefix``, ``gs://...``, ...
        cache_dir: where verified copies of remote blobs are kept.
        storage_options: the fsspec filesystem's keyword arguments (endpoint, credentials);
            for S3 the ``AWS_*`` environment variables are the usual way instead.

    Example:
        >>> store = open_artifact_store("/tmp/artifacts")
        >>> store.get_bytes(store.put_bytes(b"x")[0])
        b'x'
    """
    return FsspecArtifactStore(url, cache_dir=cache_dir, storage_options=storage_options)
