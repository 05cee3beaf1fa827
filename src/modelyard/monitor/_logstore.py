"""Where the prediction log's files live: a local folder, or an object store (any fsspec URL:
``s3://bucket/prefix``, ``gs://...``).

On a local folder, open parts and closed Parquet parts sit side by side in
``<root>/<model>/`` (:mod:`._logfiles`). An object store has no append and no rename, so
there the open part stays on local disk, in a *spool* folder, until it is closed; closing
it is one PUT of the finished Parquet file to a key of its own,
``<url>/<model>/part-<stamp>-<pid>-<seq>-<token>.parquet``, which never changes afterwards.
An object exists only once its upload completed, so readers, which list ``part-*.parquet``
keys only, never see a file half-written. A crash before the PUT leaves the stream in the
spool, and the next writer, a reader on the same machine or ``modelyard doctor`` uploads it;
a crash after the PUT but before the stream was removed is recognised by the key that
already exists, so no row is uploaded twice.

S3 is reached through s3fs (the ``s3`` extra), which reads ``AWS_ENDPOINT_URL`` and the
usual credentials, as the artifact store does.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InvalidInput, StorageUnavailable

__all__ = ["LogStore", "is_log_url", "open_log_store"]

# ``s3://b/p``, and also ``s3:/b/p``: what ``Path("s3://b/p")`` makes of a URL on its way
# through a Path-typed option.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$")
_S3 = frozenset({"s3", "s3a"})
# Libraries whose exceptions mean "the store could not be reached or refused us".
_STORAGE_LIBRARIES = frozenset({"botocore", "aiobotocore", "s3fs", "aiohttp", "gcsfs",
                                "google", "adlfs", "azure", "urllib3", "requests"})
_NAME = re.compile(r"^part-[^/]*\.parquet$")


def _url_of(root: str | os.PathLike[str]) -> str | None:
    """The fsspec URL ``root`` names, or ``None`` for a local folder."""
    match = _URL.match(os.fspath(root))
    if match is None:
        return None
    scheme = match.group(1).lower()
    if scheme in ("file", "local"):
        return None
    import fsspec

    if scheme not in fsspec.available_protocols():
        return None
    return f"{scheme}://{match.group(2)}"


def is_log_url(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` names an object store (``s3://...``) rather than a local folder."""
    return _url_of(root) is not None


def default_spool(url: str) -> Path:
    """The local folder holding the open parts of the log at ``url`` on this machine: the
    same for every process that writes or reads it, so any of them can recover what a
    crashed writer left."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "modelyard-log-spool" / digest


class LogStore:
    """The prediction log's place: a local folder or an object store with a local spool.

    Args:
        root: a folder, or an fsspec URL such as ``s3://bucket/predictions``.
        spool_dir: for a URL, the local folder for open parts (a folder of the temporary
            directory derived from the URL by default).
        storage_options: the fsspec filesystem's keyword arguments (an endpoint,
            credentials); for S3 the ``AWS_*`` environment variables are the usual way.

    Raises:
        InvalidInput: the URL's backend is not installed.

    Example:
        >>> store = LogStore("s3://team-bucket/predictions")  # doctest: +SKIP
        >>> store.closed("fraud")  # doctest: +SKIP
        ['team-bucket/predictions/fraud/part-20260101T000000000000-41-000001-ab12cd34.parquet']
    """

    def __init__(self, root: str | os.PathLike[str], *, spool_dir: str | os.PathLike[str] |
                 None = None, storage_options: Mapping[str, Any] | None = None) -> None:
        url = _url_of(root)
        self.remote = url is not None
        self.fs: Any = None
        self.base = ""
        if url is None:
            self.url = os.fspath(root)
            #: the local folder holding each model's open parts (and, locally, closed ones)
            self.root = Path(root)
            return
        self.url = url
        self.root = Path(spool_dir) if spool_dir is not None else default_spool(url)
        options = dict(storage_options or {})
        if url.split("://", 1)[0] in _S3:
            options.setdefault("use_listings_cache", False)  # other writers add files
            options.setdefault("skip_instance_cache", True)  # the environment as it is now
        import fsspec

        try:
            self.fs, base = fsspec.core.url_to_fs(url, **options)
        except (ImportError, ValueError, TypeError) as exc:
            raise InvalidInput(
                f"prediction log {url!r} cannot be opened: {exc}; use a folder or an fsspec "
                "URL whose backend is installed (pip install 'modelyard[s3]' for s3://)"
            ) from exc
        self.base = str(base).rstrip("/")

    def __repr__(self) -> str:
        return f"LogStore({self.url!r})"

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except (FileNotFoundError, StorageUnavailable):
            raise
        except Exception as exc:
            library = type(exc).__module__.split(".", 1)[0]
            if not isinstance(exc, OSError) and library not in _STORAGE_LIBRARIES:
                raise
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get(
                "AWS_ENDPOINT_URL")
            where = f" (endpoint {endpoint})" if endpoint else ""
            raise StorageUnavailable(
                f"cannot {action} the prediction log at {self.url!r}{where}: "
                f"{type(exc).__name__}: {exc}; check the URL, AWS_ENDPOINT_URL, the "
                "credentials and that the bucket exists"
            ) from exc

    def model_folders(self) -> list[Path]:
        """The local folders holding models' open parts (one per model), sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir())

    def _key(self, model: str, name: str) -> str:
        return f"{self.base}/{model}/{name}"

    def sealed(self, model: str, name: str) -> bool:
        """Whether the closed part ``name`` of ``model`` is already stored."""
        if not self.remote:
            return (self.root / model / name).exists()
        with self._guard("read"):
            return bool(self.fs.exists(self._key(model, name)))

    def put(self, model: str, name: str, table: pa.Table) -> None:
        """Store ``table`` as the closed part ``name`` of ``model`` on the object store: one
        PUT of the whole Parquet file (s3fs sends a file past its block size as a multipart
        upload, which appears only once completed too).

        Raises:
            StorageUnavailable: the store could not be written; nothing appears there.
        """
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        data = sink.getvalue().to_pybytes()
        with self._guard("write to"):
            self.fs.pipe_file(self._key(model, name), data)

    def closed(self, model: str) -> list[str]:
        """``model``'s closed parts, oldest first: paths for a folder, keys for a URL."""
        if not self.remote:
            folder = self.root / model
            return [str(p) for p in sorted(folder.glob("part-*.parquet"))] \
                if folder.is_dir() else []
        with self._guard("list"):
            try:
                found = self.fs.ls(f"{self.base}/{model}", detail=False)
            except FileNotFoundError:
                return []
        return sorted(str(k) for k in found if _NAME.match(str(k).rsplit("/", 1)[-1]))

    @contextmanager
    def open_part(self, path: str) -> Iterator[pq.ParquetFile]:
        """One closed part, for reading its metadata or batches."""
        if not self.remote:
            with pq.ParquetFile(path) as part:
                yield part
            return
        with self._guard("read"), self.fs.open(path, "rb", block_size=8 << 20) as handle, \
                pq.ParquetFile(handle) as part:
            yield part


def open_log_store(root: str | os.PathLike[str] | LogStore, *,
                   spool_dir: str | os.PathLike[str] | None = None,
                   storage_options: Mapping[str, Any] | None = None) -> LogStore:
    """The :class:`LogStore` of ``root`` (handed back as it is when it is one already)."""
    if isinstance(root, LogStore):
        return root
    return LogStore(root, spool_dir=spool_dir, storage_options=storage_options)
