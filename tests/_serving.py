"""Helpers for tests that serve models: a real ``modelyard serve`` process on 127.0.0.1, or the
app in-process over ASGI (no sockets) for unit-level checks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard


def cancer_frame() -> tuple[pd.DataFrame, pd.Series]:
    """The 30-feature breast-cancer data with identifier-like column names."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [str(c).replace(" ", "_") for c in X.columns]
    return X, y


def make_project(path: Path) -> Path:
    """A project with model 'cancer': v1 gradient boosting (champion), v2 a logistic
    regression; returns the project folder."""
    X, y = cancer_frame()
    with modelyard.open(path) as yard:
        v1 = yard.models.register("cancer", HistGradientBoostingClassifier(
            max_iter=20, random_state=0).fit(X, y), input_example=X.head(10))
        yard.models.register("cancer", make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y),
            input_example=X.head(10))
        yard.models.alias("cancer", "champion", v1.version)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_answers(proc: subprocess.Popen[bytes], url: str, timeout: float,
                       what: str) -> None:
    """Poll ``url`` until it answers 200; fail with the process's stderr if it exits first,
    or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stream = proc.stderr
            said = stream.read().decode() if stream is not None and not stream.closed else ""
            raise AssertionError(f"{what} exited {proc.returncode}: {said}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not answer {url} in {timeout} s")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM the process we started (by its pid), SIGKILL it after ``timeout``; its code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Server:
    """A ``modelyard serve`` child process on 127.0.0.1 (a free port); use it as a context
    manager, which waits until ``/ready`` and stops the process (by its pid) at the end.

    Args:
        project: the project folder to serve.
        refs: the model references to serve (``cancer@champion``).
        env: extra environment variables (every inherited ``MODELYARD_*`` is dropped first,
            so the server sees only the project's settings and these).
        args: extra ``modelyard serve`` options (``--log-dir``, ``--workers`` ...).
    """

    def __init__(self, project: Path, refs: list[str], env: dict[str, str] | None = None,
                 *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
        environ.update({"MODELYARD_SWAP_POLL_INTERVAL_S": "0.2",
                        "MODELYARD_LOG_FLUSH_INTERVAL_S": "0.1"})
        environ.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "modelyard", "serve", *refs, "--host", "127.0.0.1",
             "--port", str(self.port), "--project", str(project), "--log-level", "warning",
             *args],
            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait_ready(self, timeout: float = 40.0) -> None:
        wait_until_answers(self.proc, f"{self.url}/ready", timeout, "modelyard serve")

    def terminate(self, timeout: float = 30.0) -> int:
        return stop_process(self.proc, timeout)

    def stderr(self) -> str:
        stream = self.proc.stderr
        return stream.read().decode() if stream is not None and not stream.closed else ""

    def __enter__(self) -> Server:
        try:
            self.wait_ready()
        except BaseException:
            self.terminate()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.terminate()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def dashboard(project: Path, *args: str, timeout: float = 60.0) -> Iterator[str]:
    """``modelyard ui`` for ``project`` on 127.0.0.1 (a free port), with ``args``; yields its
    URL once ``/login`` answers, and stops the process (by its pid) at the end."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    ui = subprocess.Popen([sys.executable, "-m", "modelyard", "ui", "--port", str(port),
                           "--project", str(project), *args], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(ui, f"{url}/login", timeout, "modelyard ui")
        yield url
    finally:
        stop_process(ui, 10)
        if ui.stderr is not None:
            ui.stderr.close()


def in_process(app: Any, test: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    """Run ``test`` against the app in-process (ASGI), once it is ready, inside its lifespan."""
    async def main() -> None:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            for _ in range(200):
                if (await client.get("/ready")).status_code == 200:
                    break
                await asyncio.sleep(0.02)
            await test(client)

    asyncio.run(main())
