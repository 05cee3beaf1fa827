"""``modelyard deploy k8s``: manifests checked against the Kubernetes 1.30 schemas (strict:
an unknown field fails) and for what a cluster operator relies on."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from _serving import make_project
from modelyard.cli import main

K8S_VERSION = "1.30"
POLICY = """
[loop.cancer.triggers]
schedule = "0 3 * * *"
new_data = true

[loop.cancer.gate]
margin = 0.0
floors = { recall = 0.9 }

[loop.cancer.rollout]
server_url = "http://cancer.ml.svc"
canary_share = 0.1
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("k8s-project"))
    (root / "modelyard.toml").write_text('max_batch_size = 32\n' + POLICY)
    return root


def load(folder: Path) -> dict[str, dict[str, Any]]:
    """Every manifest by file name, each one validated against the 1.30 schemas."""
    docs = {}
    for path in sorted(folder.glob("*.yaml")):
        (doc,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        docs[path.stem] = doc
    return docs


def test_manifests_validate_and_wire_up(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio.storage.svc:9000")
    out = tmp_path / "k8s"
    code, text = cli(capsys, "deploy", "k8s", "cancer@champion", "--out", str(out),
                     "--project", str(project), "--image", "registry.local/cancer:1",
                     "--replicas", "3", "--namespace", "ml", "--cpu", "250m",
                     "--memory", "768Mi", "--min-replicas", "2", "--max-replicas", "6")
    assert code == 0, text
    docs = load(out)
    assert set(docs) == {"configmap", "deployment", "service", "hpa", "pdb", "loop-deployment"}
    assert {d["metadata"]["namespace"] for d in docs.values()} == {"ml"}
    assert (out / "README.md").read_text().count("kubectl -n ml create secret generic") == 1

    server = docs["deployment"]
    pod = server["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert labels["modelyard.io/version"] == "1" and server["spec"]["replicas"] == 3
    container = pod["spec"]["containers"][0]
    assert container["image"] == "registry.local/cancer:1"
    assert container["args"][-2:] == ["serve", "cancer@champion"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "768Mi"}
    assert container["resources"]["limits"]["memory"] == "768Mi"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 10
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert {"/tmp", "/var/lib/modelyard"} <= set(mounts)
    assert all("emptyDir" in volumes[name] for name in mounts.values())

    # Every selector picks exactly the server's pods, never the loop's.
    loop = docs["loop-deployment"]
    loop_labels = loop["spec"]["template"]["metadata"]["labels"]
    for selector in (docs["service"]["spec"]["selector"],
                     docs["pdb"]["spec"]["selector"]["matchLabels"],
                     server["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
        assert not selector.items() <= loop_labels.items()
    assert docs["service"]["spec"]["ports"][0]["targetPort"] == "http"
    hpa = docs["hpa"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["scaleTargetRef"]["name"] == server["metadata"]["name"]

    # Settings by environment, secrets by reference only.
    settings = docs["configmap"]["data"]
    assert settings["MODELYARD_SERVE_HOST"] == "0.0.0.0"
    assert settings["MODELYARD_MAX_BATCH_SIZE"] == "32"
    assert "MODELYARD_ARTIFACTS" not in settings  # a local folder: the bundled copy
    assert settings["AWS_ENDPOINT_URL"] == "http://minio.storage.svc:9000"
    assert not any("DB_URL" in key or "SECRET" in key for key in settings)
    secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert secret_refs["MODELYARD_DB_URL"]["name"] == "cancer-secrets"
    assert tomllib.loads(settings["modelyard.toml"]) == tomllib.loads(POLICY)

    # The loop: one replica, the same settings, its policy mounted as modelyard.toml.
    assert loop["spec"]["replicas"] == 1 and loop["spec"]["strategy"]["type"] == "Recreate"
    loop_container = loop["spec"]["template"]["spec"]["containers"][0]
    assert loop_container["args"][-2:] == ["loop", "start"]
    toml_mount = [m for m in loop_container["volumeMounts"] if m.get("subPath")]
    assert toml_mount[0]["mountPath"] == "/var/lib/modelyard/modelyard.toml"


@pytest.mark.parametrize(("args", "message"), [
    (["--replicas", "9", "--max-replicas", "6"], "--replicas 9"),
    (["--memory", "lots"], "--memory 'lots' is not a Kubernetes quantity"),
    (["--image", "cancer:latest"], "not :latest"),
    (["--namespace", "ML team"], "Kubernetes name"),
])
def test_bad_options_are_one_clear_line(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
    message: str,
) -> None:
    code, text = cli(capsys, "deploy", "k8s", "cancer@champion", "--out", str(tmp_path / "o"),
                     "--project", str(project), *args)
    assert code == 2 and message in text and "Traceback" not in text
    assert not (tmp_path / "o").exists()


def test_unknown_alias_names_the_aliases(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = cli(capsys, "deploy", "k8s", "cancer@prod", "--out", str(tmp_path / "o"),
                     "--project", str(project))
    assert code == 3 and "champion" in text
