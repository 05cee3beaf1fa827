"""The team setup: metadata on PostgreSQL (SQLite when no server was started), artifacts and
dataset files on S3 (moto in server mode on 127.0.0.1). The core scenario runs unchanged:
ingest, train, register, load and predict, serve; a second machine sharing the settings
gets the same answers from the same bytes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import modelyard
from _backends import BACKENDS, _pg_schema_url
from _s3 import S3, s3_bucket, s3_server  # noqa: F401
from _serving import cancer_frame, in_process
from modelyard.serve import create_app

pytestmark = pytest.mark.s3


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        yield from _pg_schema_url()
    else:
        yield f"sqlite:///{tmp_path / 'team.db'}"


def test_the_core_scenario_on_a_database_and_s3(s3: S3, db_url: str, tmp_path: Path) -> None:
    X, y = cancer_frame()
    frame = X.assign(target=y)
    (tmp_path / "laptop").mkdir()
    frame.to_csv(tmp_path / "laptop" / "cancer.csv", index=False)
    # the whole team set-up: metadata on the database, artifacts and the log in the bucket
    team = {"db_url": db_url, "artifacts": s3.url("team"), "log_dir": s3.url("predictions")}
    with modelyard.open(tmp_path / "laptop", **team) as yard:
        data = yard.datasets.ingest(tmp_path / "laptop" / "cancer.csv", name="cancer")
        result = yard.train({
            "model": "cancer", "dataset": "cancer@latest", "target": "target",
            "estimator": {"class": "sklearn.ensemble.RandomForestClassifier",
                          "params": {"n_estimators": 20, "random_state": 0}},
            "evaluation": {"test_size": 0.25, "cv": 2},
        })
        version = result.model_version
        yard.models.alias("cancer", "champion", version.version, reason="first")
        expected = yard.models.load("cancer@champion").predict(X.head(40))

        async def predict_one(client: httpx.AsyncClient) -> None:
            answer = await client.post("/v1/models/cancer@champion/predict",
                                       json=X.head(1).to_dict(orient="records")[0])
            assert answer.status_code == 200, answer.text
            assert answer.json()["version"] == version.version
            assert answer.json()["predictions"] == [int(expected[0])]

        in_process(create_app(yard, ["cancer@champion"]), predict_one)

    # Every byte is in the bucket under its hash; nothing in the laptop's local store.
    keys = set(s3.fs().find(f"{s3.bucket}/team/blobs"))
    for sha in (data.blob_sha256, version.blob_sha256):
        assert f"{s3.bucket}/team/blobs/{sha[:2]}/{sha}" in keys
    local = tmp_path / "laptop" / ".modelyard" / "artifacts" / "blobs"
    assert not local.exists() or not any(local.rglob("*"))

    # A colleague's machine: same settings, empty cache; same version, same answers.
    with modelyard.open(tmp_path / "colleague", **team) as yard:
        assert yard.models.get("cancer@champion").blob_sha256 == version.blob_sha256
        again = yard.models.load("cancer@champion").predict(X.head(40))
        assert (again == expected).all()
        assert yard.datasets.load("cancer@1").shape == frame.shape
        # monitoring on that machine reads the prediction the laptop's server logged,
        # from the bucket (the server closed its part, one object, when it stopped)
        report = yard.monitor.check("cancer", window="last:1000",
                                    reference="window:0/4102444800", alerts=False,
                                    server_required=False)
        assert [w.versions for w in report.windows] == [{str(version.version): 1}]
    assert any(k.rsplit("/", 1)[-1].startswith("part-")
               for k in s3.fs().find(f"{s3.bucket}/predictions"))
