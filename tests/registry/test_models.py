"""The models API end to end, on SQLite and PostgreSQL: register, resolve, alias, load,
delete and collect."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import modelyard
from modelyard.errors import Conflict, Corrupted, InvalidInput, NotFound
from modelyard.registry import Predictor, Signature
from modelyard.store import Store
from modelyard.store._schema import DatasetRow, DatasetVersionRow, RunRow

Data = tuple[pd.DataFrame, pd.Series]


def _blob_path(yard: modelyard.Yard, sha: str) -> Any:
    return yard.settings.state_dir / "artifacts" / "blobs" / sha[:2] / sha


def _add_run(store: Store, run_id: str, commit: str) -> None:
    now = time.time()
    store.db.write(lambda s: s.add(RunRow(
        id=run_id, name="r", experiment="default", parent_id=None, status="finished",
        start_time=now, end_time=now, heartbeat_at=now, host="h", pid=1, pid_started_at=now,
        git_commit=commit, environment_json="{}", failure="")))


def _add_dataset_version(store: Store) -> int:
    def add(session: Any) -> int:
        ds = DatasetRow(name="cancer", description="", created_at=time.time())
        session.add(ds)
        session.flush()
        dv = DatasetVersionRow(dataset_id=ds.id, version=1, content_hash="c" * 64,
                               blob_sha256="d" * 64, n_rows=569, n_columns=31,
                               schema_json="{}", source="test", created_at=time.time())
        session.add(dv)
        session.flush()
        return int(dv.id)

    return store.db.write(add)


# -- register and load ---------------------------------------------------------------


def test_a_classifier_round_trips_with_identical_predictions(
    yard: modelyard.Yard, cancer: Data, hgb: HistGradientBoostingClassifier
) -> None:
    X, _ = cancer
    version = yard.models.register("cancer", hgb, input_example=X, metrics={"auc": 0.99},
                                   description="first try")
    assert (version.model, version.version, version.format) == ("cancer", 1, "skops")
    assert version.flavor.endswith("HistGradientBoostingClassifier")
    assert version.metrics == {"auc": 0.99} and version.description == "first try"
    assert version.extra["format_info"]["skops_trusted"]
    assert len(version.extra["input_example"]) == 5
    outputs = version.signature["outputs"]
    assert outputs == {"task": "classification", "prediction_type": "integer",
                       "classes": [0, 1], "predict_proba": True}
    assert [c["name"] for c in version.signature["inputs"]] == list(X.columns)

    predictor = yard.models.load("cancer")
    assert isinstance(predictor, Predictor) and predictor.version == version
    assert predictor.classes == [0, 1]
    np.testing.assert_array_equal(predictor.predict(X), hgb.predict(X))
    np.testing.assert_allclose(predictor.predict_proba(X), hgb.predict_proba(X))


def test_a_pipeline_with_categorical_columns_round_trips(
    yard: modelyard.Yard, mixed: tuple[pd.DataFrame, Any], mixed_pipeline: Pipeline
) -> None:
    frame, _ = mixed
    yard.models.register("orders", mixed_pipeline, input_example=frame)
    predictor = yard.models.load("orders@latest")
    types = {c.name: c.type for c in predictor.signature.inputs or ()}
    assert types == {"amount": "float", "items": "integer", "country": "categorical",
                     "channel": "string", "returning": "boolean"}
    np.testing.assert_array_equal(predictor.predict(frame), mixed_pipeline.predict(frame))
    # One JSON-like record, columns in any order, ints for the float column.
    record = {"returning": True, "channel": "app", "country": "FR", "items": 3, "amount": 80}
    expected = mixed_pipeline.predict(pd.DataFrame([record])[list(frame.columns)].astype(
        {"amount": float, "country": frame["country"].dtype}))
    np.testing.assert_array_equal(predictor.predict(record), expected)
    np.testing.assert_array_equal(predictor.predict([record, record]), np.repeat(expected, 2))


def test_a_regressor_round_trips_and_has_no_predict_proba(
    yard: modelyard.Yard, diabetes: Data, ridge: Ridge
) -> None:
    X, _ = diabetes
    version = yard.models.register("sugar", ridge, input_example=X.head(50))
    assert version.signature["outputs"]["task"] == "regression"
    predictor = yard.models.load(version.ref)
    np.testing.assert_allclose(predictor.predict(X), ridge.predict(X))
    np.testing.assert_allclose(predictor.predict(X.to_numpy()), ridge.predict(X))
    with pytest.raises(InvalidInput, match="no predict_proba"):
        predictor.predict_proba(X)


def test_a_model_fitted_on_arrays_gets_arrays(yard: modelyard.Yard, cancer: Data) -> None:
    X, y = cancer
    model = HistGradientBoostingClassifier(max_iter=5).fit(X.to_numpy(), y)
    yard.models.register("plain", model, input_example=X.to_numpy()[:20])
    predictor = yard.models.load("plain")
    assert predictor.signature.columns[:2] == ["f0", "f1"]
    np.testing.assert_array_equal(predictor.predict(X.to_numpy()), model.predict(X.to_numpy()))


def test_versions_number_up_and_lineage_is_kept(
    yard: modelyard.Yard, cancer: Data, hgb: HistGradientBoostingClassifier
) -> None:
    X, _ = cancer
    _add_run(yard.store, "run1", "abc123")
    dv_id = _add_dataset_version(yard.store)
    v1 = yard.models.register("cancer", hgb, input_example=X, run_id="run1",
                              dataset_version=dv_id)
    v2 = yard.models.register("cancer", hgb, input_example=X, run_id="run1",
                              code_version="deadbeef")
    assert (v1.version, v2.version) == (1, 2)
    assert (v1.run_id, v1.code_version, v1.dataset_version_id) == ("run1", "abc123", dv_id)
    assert v1.dataset_ref == "cancer@1"
    assert v2.code_version == "deadbeef"
    assert [v.version for v in yard.models.versions("cancer")] == [1, 2]
    with pytest.raises(NotFound, match="no run 'nope'"):
        yard.models.register("cancer", hgb, run_id="nope")
    with pytest.raises(NotFound, match="no dataset version with id 999"):
        yard.models.register("cancer", hgb, dataset_version=999)


def test_concurrent_registrations_get_distinct_numbers(
    yard: modelyard.Yard, ridge: Ridge
) -> None:
    errors: list[BaseException] = []
    numbers: list[int] = []

    def register() -> None:
        try:
            numbers.append(yard.models.register("busy", ridge).version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]


def test_register_rejects_bad_arguments(
    yard: modelyard.Yard, cancer: Data, hgb: HistGradientBoostingClassifier
) -> None:
    X, _ = cancer
    with pytest.raises(InvalidInput, match="model name"):
        yard.models.register("bad name!", hgb)
    with pytest.raises(InvalidInput, match="unknown model format 'joblib'"):
        yard.models.register("m", hgb, format="joblib")
    with pytest.raises(InvalidInput, match="metric 'auc'"):
        yard.models.register("m", hgb, metrics={"auc": "high"})
    with pytest.raises(InvalidInput, match="reserved"):
        yard.models.register("m", hgb, extra={"format_info": 1})
    with pytest.raises(InvalidInput, match="JSON"):
        yard.models.register("m", hgb, extra={"when": object()})
    with pytest.raises(InvalidInput, match="cannot predict its input_example"):
        yard.models.register("m", hgb, input_example=X.iloc[:, :3])
    assert yard.models.list() == []


def test_an_explicit_signature_wins(yard: modelyard.Yard, ridge: Ridge, diabetes: Data) -> None:
    X, _ = diabetes
    sig = {"inputs": [{"name": c, "type": "float", "nullable": True} for c in X.columns],
           "outputs": {"task": "regression", "prediction_type": "float"}}
    yard.models.register("sugar", ridge, signature=sig, input_example=X.head())
    predictor = yard.models.load("sugar")
    assert all(c.nullable for c in predictor.signature.inputs or ())
    assert predictor.signature == Signature.from_dict(sig)


def test_without_an_example_inputs_are_unchecked(
    yard: modelyard.Yard, ridge: Ridge, diabetes: Data
) -> None:
    X, _ = diabetes
    version = yard.models.register("sugar", ridge)
    assert "inputs" not in version.signature
    np.testing.assert_allclose(yard.models.load("sugar").predict(X), ridge.predict(X))


# -- formats -------------------------------------------------------------------------


def _double(x: Any) -> Any:
    return x * 2


def test_objects_skops_cannot_store_suggest_pickle(yard: modelyard.Yard) -> None:
    local = FunctionTransformer(lambda x: x)
    with pytest.raises(InvalidInput, match="format='pickle'"):
        yard.models.register("odd", local)
    assert yard.models.list() == []


def test_pickle_is_refused_without_opt_in(yard: modelyard.Yard, diabetes: Data,
                                          ridge: Ridge) -> None:
    X, _ = diabetes
    version = yard.models.register("sugar", ridge, format="pickle", input_example=X.head())
    assert version.format == "pickle"
    with pytest.raises(InvalidInput, match="allow_pickle=True"):
        yard.models.load("sugar")
    predictor = yard.models.load("sugar", allow_pickle=True)
    np.testing.assert_allclose(predictor.predict(X), ridge.predict(X))


def test_the_allow_pickle_setting_opts_in(settings: modelyard.Settings, diabetes: Data,
                                          ridge: Ridge) -> None:
    X, _ = diabetes
    with modelyard.open(settings.project_dir, db_url=settings.db_url or None) as yard:
        yard.models.register("sugar", ridge, format="pickle")
    with modelyard.open(settings.project_dir, db_url=settings.db_url or None,
                        allow_pickle=True) as yard:
        np.testing.assert_allclose(yard.models.load("sugar").predict(X), ridge.predict(X))
        with pytest.raises(InvalidInput, match="allow_pickle"):
            yard.models.load("sugar", allow_pickle=False)


def test_a_tampered_file_is_refused(yard: modelyard.Yard, diabetes: Data, ridge: Ridge) -> None:
    version = yard.models.register("sugar", ridge)
    path = _blob_path(yard, version.blob_sha256)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(Corrupted, match="corrupted"):
        yard.models.load("sugar")


def test_a_missing_file_is_not_found(yard: modelyard.Yard, ridge: Ridge) -> None:
    version = yard.models.register("sugar", ridge)
    _blob_path(yard, version.blob_sha256).unlink()
    with pytest.raises(NotFound, match="missing"):
        yard.models.load("sugar")


# -- refs ----------------------------------------------------------------------------


def test_refs_resolve(yard: modelyard.Yard, ridge: Ridge) -> None:
    for _ in range(3):
        yard.models.register("sugar", ridge)
    yard.models.alias("sugar", "champion", 2)
    assert yard.models.get("sugar").version == 3
    assert yard.models.get("sugar@latest").version == 3
    assert yard.models.get("sugar@champion").version == 2
    assert yard.models.get("sugar/versions/1").version == 1
    assert yard.models.get("sugar@1").version == 1
    assert yard.models.get("sugar@champion").aliases == ("champion",)
    assert yard.models.load("sugar@champion").version.version == 2


def test_not_found_messages_say_what_exists(yard: modelyard.Yard, ridge: Ridge) -> None:
    with pytest.raises(NotFound, match="no model 'fraud'; no models are registered yet"):
        yard.models.get("fraud")
    for _ in range(6):
        yard.models.register("fraud", ridge)
    yard.models.register("churn", ridge)
    with pytest.raises(NotFound, match="no model 'frod'; registered models: churn, fraud"):
        yard.models.get("frod@champion")
    with pytest.raises(NotFound, match="no version 7 of model 'fraud'; it has versions 1-6"):
        yard.models.get("fraud/versions/7")
    with pytest.raises(NotFound, match="no alias 'champion' on model 'fraud'; it has no alias"):
        yard.models.get("fraud@champion")
    yard.models.alias("fraud", "challenger", 6)
    with pytest.raises(NotFound,
                       match="no alias 'champion' on model 'fraud'; its aliases: challenger"):
        yard.models.get("fraud@champion")
    yard.models.delete_version("fraud", 3)
    with pytest.raises(NotFound, match="it has versions 1-2, 4-6"):
        yard.models.get("fraud@3")
    with pytest.raises(InvalidInput, match="not a model reference"):
        yard.models.get("fraud@@x")


def test_list_shows_aliases_and_latest_version(yard: modelyard.Yard, ridge: Ridge) -> None:
    for _ in range(2):
        yard.models.register("fraud", ridge)
    yard.models.register("churn", ridge)
    yard.models.alias("fraud", "champion", 1)
    yard.models.alias("fraud", "challenger", 2)
    listed = {m.name: m for m in yard.models.list()}
    assert list(listed) == ["churn", "fraud"]
    assert listed["fraud"].latest_version == 2
    assert listed["fraud"].aliases == {"challenger": 2, "champion": 1}
    assert listed["churn"].aliases == {}
    assert yard.models.get_model("fraud") == listed["fraud"]
    yard.models.set_description("fraud", "card fraud")
    assert yard.models.get_model("fraud").description == "card fraud"


# -- aliases -------------------------------------------------------------------------


def test_aliases_move_and_history_records_every_move(yard: modelyard.Yard,
                                                     ridge: Ridge) -> None:
    for _ in range(3):
        yard.models.register("fraud", ridge)
    yard.models.alias("fraud", "champion", 1, reason="first")
    yard.models.alias("fraud", "champion", 1, reason="no-op")  # already there: not recorded
    yard.models.alias("fraud", "champion", 3, reason="better AUC")
    yard.models.alias("fraud", "challenger", 2)
    yard.models.remove_alias("fraud", "challenger", reason="lost")
    assert yard.models.get("fraud@champion").version == 3
    history = yard.models.alias_history("fraud", "champion")
    assert [(e.from_version, e.to_version, e.reason) for e in history] == [
        (None, 1, "first"), (1, 3, "better AUC")]
    every = yard.models.alias_history("fraud")
    assert [(e.alias, e.to_version) for e in every] == [
        ("champion", 1), ("champion", 3), ("challenger", 2), ("challenger", None)]
    assert all(e.model == "fraud" for e in every)
    with pytest.raises(NotFound, match="no alias 'challenger'"):
        yard.models.get("fraud@challenger")


def test_alias_rules(yard: modelyard.Yard, ridge: Ridge) -> None:
    yard.models.register("fraud", ridge)
    for bad in ("latest", "3", "Champion", "a b", "x" * 51, ""):
        with pytest.raises(InvalidInput):
            yard.models.alias("fraud", bad, 1)
    with pytest.raises(NotFound, match="no version 2 of model 'fraud'; it has versions 1"):
        yard.models.alias("fraud", "champion", 2)
    with pytest.raises(NotFound, match="no model 'churn'"):
        yard.models.alias("churn", "champion", 1)
    with pytest.raises(NotFound, match="no alias 'champion'"):
        yard.models.remove_alias("fraud", "champion")
    assert yard.models.alias_history("fraud") == []


# -- delete and gc -------------------------------------------------------------------


def test_delete_version_refuses_while_aliased_unless_forced(yard: modelyard.Yard,
                                                            ridge: Ridge) -> None:
    for _ in range(2):
        yard.models.register("fraud", ridge)
    yard.models.alias("fraud", "champion", 2)
    with pytest.raises(Conflict, match="aliased as champion"):
        yard.models.delete_version("fraud", 2)
    yard.models.delete_version("fraud", 2, force=True)
    assert [v.version for v in yard.models.versions("fraud")] == [1]
    assert yard.models.get_model("fraud").aliases == {}
    last = yard.models.alias_history("fraud", "champion")[-1]
    assert (last.from_version, last.to_version, last.reason) == (2, None, "version 2 deleted")
    # A deleted number is never given again: fraud/versions/2 keeps naming what it named.
    assert yard.models.register("fraud", ridge).version == 3


def test_deleted_versions_are_freed_by_gc(yard: modelyard.Yard, cancer: Data,
                                          hgb: HistGradientBoostingClassifier,
                                          ridge: Ridge) -> None:
    X, _ = cancer
    kept = yard.models.register("sugar", ridge)
    first = yard.models.register("cancer", hgb, input_example=X)
    second = yard.models.register("cancer", hgb, input_example=X)
    yard.models.alias("cancer", "champion", 2)
    assert _blob_path(yard, first.blob_sha256).exists()

    yard.models.delete_version("cancer", 1)
    assert yard.gc(grace_s=3600).blobs_deleted == 0  # too young
    assert yard.gc(grace_s=0).blobs_deleted == 1
    assert not _blob_path(yard, first.blob_sha256).exists()
    assert _blob_path(yard, second.blob_sha256).exists()

    yard.models.delete_model("cancer")
    with pytest.raises(NotFound, match="no model 'cancer'; registered models: sugar"):
        yard.models.versions("cancer")
    assert yard.gc(grace_s=0).blobs_deleted == 1
    assert not _blob_path(yard, second.blob_sha256).exists()
    assert _blob_path(yard, kept.blob_sha256).exists()
    zeros = pd.DataFrame(np.zeros((1, 10)), columns=ridge.feature_names_in_)
    np.testing.assert_allclose(yard.models.load("sugar").predict(zeros.to_numpy()),
                               ridge.predict(zeros))
