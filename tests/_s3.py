"""A real S3 API on 127.0.0.1 for the object-storage tests: moto in server mode, started once
per session; each test gets its own bucket and the ``AWS_*`` variables s3fs reads.

Use it by importing the fixtures into a test module::

    from _s3 import S3, s3_bucket, s3_server  # noqa: F401  (fixtures "s3", "s3_server")
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3:
    """One test's bucket on the session's S3 server."""

    endpoint: str
    bucket: str
    _fs: Any = None

    def url(self, prefix: str = "yard") -> str:
        """``s3://<bucket>/<prefix>``."""
        return f"s3://{self.bucket}/{prefix}"

    def fs(self) -> Any:
        """An s3fs filesystem on the server, with no listing cache (sees every change)."""
        import s3fs

        if self._fs is None:
            self._fs = s3fs.S3FileSystem(endpoint_url=self.endpoint, key="testing",
                                         secret="testing", use_listings_cache=False,
                                         skip_instance_cache=True)
        return self._fs


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server on 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(name="s3")
def s3_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> S3:
    """A fresh bucket, with ``AWS_ENDPOINT_URL`` and test credentials in the environment
    (the way a user points modelyard at MinIO or any S3 API)."""
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    bucket = S3(s3_server, f"yard-{uuid.uuid4().hex[:12]}")
    bucket.fs().mkdir(bucket.bucket)
    return bucket


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of the S3 server that, once ``cut_after`` is set,
    drops every connection that sends more than that many bytes (an upload dies mid-body,
    as when a pod is killed or the network fails; small requests still pass)."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.cut_after: int | None = None
        self.cuts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self._upstream)
        sent = 0
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        sent += len(data)
                        if self.cut_after is not None and sent > self.cut_after:
                            self.cuts += 1
                            upstream.sendall(data[: max(0, len(data) // 2)])
                            return
                        upstream.sendall(data)
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        """Stop accepting and end every connection."""
        self._stop.set()
        self._thread.join()
        self._listener.close()
