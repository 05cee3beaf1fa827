"""``modelyard deploy image``: the build context is checked as a container engine would use it.

There is no container engine on these machines, so the image's Python environment is built
in a scratch virtualenv that sees *only* the distributions ``requirements.txt`` pins: each is
linked in from ``.venv`` after checking its installed version is the pinned one; then
``pip install --no-index --require-hashes --no-deps -r requirements.txt`` must find every pin
already satisfied (any other version, or a missing package, fails with no index) and
``pip check`` must find the closure complete. Installing the same wheels again from PyPI
with their hashes would prove nothing more about the pins and take minutes. The server is
then started from the Dockerfile's own ENTRYPOINT + CMD, ENV and WORKDIR (``/app`` is the
context folder, as ``COPY`` puts it), after the source project is deleted.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx
import numpy as np
import pytest

from _serving import cancer_frame, free_port, make_project
from modelyard.cli import main
from modelyard.store import sha256_file

ROOT = Path(__file__).resolve().parents[2]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments out."""
    text = re.sub(r"\\\n", " ", "\n".join(
        line for line in dockerfile.read_text().splitlines()
        if not line.lstrip().startswith("#")))
    return [(ins.upper(), rest.strip()) for ins, _, rest in
            (line.strip().partition(" ") for line in text.splitlines() if line.strip())]


def lint(steps: list[tuple[str, str]], context: Path) -> None:
    """The rules that matter: a pinned base, hash-checked installs, a non-root user before
    the command, a health check, exec-form commands, COPY sources that exist."""
    kinds = [k for k, _ in steps]
    assert kinds[0] == "FROM"
    base = steps[0][1]
    assert re.match(r"^[\w./-]+:[\w.-]+$", base) and not base.endswith(":latest"), base
    for kind, args in steps:
        if kind == "RUN" and "pip install" in args:
            assert "--require-hashes" in args and "--no-deps" in args
        if kind == "COPY":
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            assert all((context / s).exists() for s in sources), args
        if kind in {"CMD", "ENTRYPOINT"}:
            json.loads(args)  # exec form: the process gets signals itself
    user = [a for k, a in steps if k == "USER"]
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert kinds.index("USER") < kinds.index("CMD")
    assert "HEALTHCHECK" in kinds and "/health" in dict(steps)["HEALTHCHECK"]


def scratch_env(requirements: Path, folder: Path) -> Path:
    """A virtualenv holding exactly the pinned distributions; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+) \\$", requirements.read_text(), re.M)
    assert len(pins) > 30
    for name, version in pins:
        dist = metadata.distribution(name)
        assert dist.version == version, f"{name}: .venv has {dist.version}, pinned {version}"
        for top in {Path(str(f)).parts[0] for f in dist.files or []} - {".."}:
            source = Path(str(dist.locate_file(top)))
            if top.endswith(".pth") or not source.exists() or (site / top).exists():
                continue
            (site / top).symlink_to(source)
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    installed = subprocess.run([*pip, "install", "--no-index", "--require-hashes", "--no-deps",
                                "-r", str(requirements)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    checked = subprocess.run([*pip, "check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return python


@pytest.mark.slow
def test_the_image_serves_exactly_its_version_from_its_own_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project")
    import modelyard

    with modelyard.open(project) as yard:
        yard.models.alias("cancer", "champion", 2)  # serve v2, not the first version
        version = yard.models.get("cancer@champion")
        X, _ = cancer_frame()
        expected = yard.models.load("cancer@champion").predict_proba(X.head(3))
    context = tmp_path / "context"
    code, text = cli(capsys, "deploy", "image", "cancer@champion", "--out", str(context),
                     "--project", str(project), "--lock", str(ROOT / "requirements/dev.lock"))
    assert code == 0, text
    steps = instructions(context / "Dockerfile")
    lint(steps, context)
    blob = context / "bundle/artifacts/blobs" / version.blob_sha256[:2] / version.blob_sha256
    assert sha256_file(blob) == version.blob_sha256
    requirements = (context / "requirements.txt").read_text()
    for needed in ("fastapi==", "uvicorn==", "scikit-learn==", "psycopg==", "s3fs=="):
        assert f"\n{needed}" in requirements
    for tooling in ("pytest==", "mypy==", "moto==", "playwright==", "ruff=="):
        assert f"\n{tooling}" not in requirements

    python = scratch_env(context / "requirements.txt", tmp_path / "venv")
    shutil.rmtree(project)  # the image needs nothing of the source store

    env_lines = [a for k, a in steps if k == "ENV"]
    env = {"PATH": f"{python.parent}:/usr/bin:/bin"}
    for line in env_lines:
        env.update(dict(pair.split("=", 1) for pair in line.split()))
    env = {k: v.replace("/app", str(context)) for k, v in env.items()}
    port = free_port()
    env.update({"MODELYARD_SERVE_HOST": "127.0.0.1", "MODELYARD_SERVE_PORT": str(port),
                "HOME": str(tmp_path / "home")})
    home = tmp_path / "home"  # WORKDIR: the writable project folder (an emptyDir in k8s)
    home.mkdir()
    command = [a.replace("/app", str(context)) for a in
               json.loads(dict(steps)["ENTRYPOINT"]) + json.loads(dict(steps)["CMD"])]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, cwd=home, env=env, stdout=sink,
                                stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        answer = httpx.post(f"{url}/v1/models/cancer@champion/predict",
                            json=X.head(3).to_dict(orient="records"), timeout=10)
        assert answer.status_code == 200, answer.text + log.read_text()
        body = answer.json()
        assert (body["model"], body["version"]) == ("cancer", 2)
        assert np.allclose(body["probabilities"], expected)
        health = json.loads(dict(steps)["HEALTHCHECK"].split("CMD", 1)[1])
        assert subprocess.run([str(python), *health[1:]], env=env, timeout=30).returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    # Drained and exited on SIGTERM (uvicorn re-raises the signal once it has shut down).
    assert code in (0, -signal.SIGTERM), log.read_text()
    assert "Finished server process" in log.read_text()
    # The bundled yard was copied into the writable project folder, and served from there.
    assert (home / ".modelyard" / "yard.db").is_file()


def test_a_bad_base_image_or_a_used_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project")
    code, text = cli(capsys, "deploy", "image", "cancer@champion", "--out", str(tmp_path / "c"),
                     "--project", str(project), "--base", "python:latest")
    assert code == 2 and "fixed tag" in text and not (tmp_path / "c").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("mine")
    code, text = cli(capsys, "deploy", "image", "cancer", "--out", str(tmp_path / "used"),
                     "--project", str(project))
    assert code == 2 and "not empty" in text and (tmp_path / "used" / "x").read_text() == "mine"
    code, text = cli(capsys, "deploy", "image", "cancer", "--out", str(tmp_path / "c"),
                     "--project", str(project), "--extra", "gpu")
    assert code == 2 and "unknown extra" in text
