"""Ingesting CSV, Parquet, SQL and DataFrames into content-addressed versions."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

import modelyard
from modelyard.data import canonicalize
from modelyard.errors import InvalidInput, StorageUnavailable, ValidationFailed


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "amount": [10.5, 3.25, np.nan, 7.0],
            "city": ["Oslo", "Lima", None, "Oslo"],
            "fraud": [True, False, False, True],
            "at": pd.to_datetime(
                ["2024-01-01 10:00", "2024-01-02 00:00", "2024-02-29 23:59", "2024-03-01 08:30"]
            ),
        }
    )


def _blob_count(yard: modelyard.Yard) -> int:
    return len(list(yard.store.artifacts.list_blobs()))


def test_identical_data_gives_the_same_version_and_stores_nothing(
    yard: modelyard.Yard, tmp_path: Path
) -> None:
    first = yard.datasets.ingest(_frame(), name="tx", description="card transactions")
    blobs = _blob_count(yard)
    again = yard.datasets.ingest(_frame(), name="tx")
    assert again == first
    assert first.version == 1 and first.ref == "tx@1"
    assert _blob_count(yard) == blobs == 1
    assert [v.version for v in yard.datasets.versions("tx")] == [1]
    assert yard.datasets.list()[0].description == "card transactions"


def test_changed_data_gives_the_next_version(yard: modelyard.Yard) -> None:
    v1 = yard.datasets.ingest(_frame(), name="tx")
    changed = _frame()
    changed.loc[0, "amount"] = 10.75
    v2 = yard.datasets.ingest(changed, name="tx")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.content_hash != v2.content_hash
    assert yard.datasets.get("tx").version == 2
    assert yard.datasets.get("tx@1") == v1
    assert yard.datasets.list()[0].latest_version == 2
    # Going back to the first content finds version 1 again.
    assert yard.datasets.ingest(_frame(), name="tx") == v1


def test_csv_parquet_and_dataframe_of_the_same_frame_agree(
    yard: modelyard.Yard, tmp_path: Path
) -> None:
    frame = _frame()
    frame.to_csv(tmp_path / "tx.csv", index=False)
    frame.to_parquet(tmp_path / "tx.parquet", index=False)
    frame.to_csv(tmp_path / "tx.csv.gz", index=False)
    from_csv = yard.datasets.ingest(tmp_path / "tx.csv", name="tx")
    from_parquet = yard.datasets.ingest(str(tmp_path / "tx.parquet"), name="tx")
    from_gzip = yard.datasets.ingest(tmp_path / "tx.csv.gz", name="tx")
    from_frame = yard.datasets.ingest(frame, name="tx")
    assert from_csv == from_parquet == from_gzip == from_frame
    assert from_csv.source.startswith("csv:")
    types = {c["name"]: c["type"] for c in from_csv.schema["columns"]}
    assert types == {
        "id": "integer", "amount": "float", "city": "string", "fraud": "boolean",
        "at": "datetime",
    }


def test_format_can_be_given_when_the_suffix_does_not_say(
    yard: modelyard.Yard, tmp_path: Path
) -> None:
    path = tmp_path / "export.data"
    _frame().to_parquet(path)
    assert yard.datasets.ingest(path, name="tx", format="parquet").n_rows == 4
    with pytest.raises(InvalidInput, match="unknown format 'xlsx'"):
        yard.datasets.ingest(path, name="tx", format="xlsx")


def test_load_returns_the_equal_frame_with_its_dtypes(yard: modelyard.Yard) -> None:
    frame = _frame()
    frame["count"] = pd.array([1, None, 3, 4], dtype="Int64")
    frame["flag"] = pd.array([True, None, False, True], dtype="boolean")
    frame["grade"] = pd.Categorical(["a", "b", "a", "c"])
    frame["utc"] = pd.to_datetime(["2024-01-01"] * 4).tz_localize("UTC")
    version = yard.datasets.ingest(frame, name="tx")
    loaded = yard.datasets.load("tx")
    pd.testing.assert_frame_equal(loaded, canonicalize(frame))
    assert str(loaded["id"].dtype) == "int64"
    assert str(loaded["count"].dtype) == "Int64"
    assert str(loaded["flag"].dtype) == "boolean"
    assert isinstance(loaded["grade"].dtype, pd.CategoricalDtype)
    assert str(loaded["utc"].dt.tz) == "UTC"
    assert version.n_columns == 9
    only = yard.datasets.load(version, columns=["city", "id"])
    assert list(only.columns) == ["city", "id"]
    with pytest.raises(InvalidInput, match=r"has no column.*'nope'.*columns: id, amount"):
        yard.datasets.load("tx@1", columns=["nope"])


def test_a_real_dataset_round_trips(yard: modelyard.Yard, tmp_path: Path) -> None:
    cancer = load_breast_cancer(as_frame=True).frame
    cancer.to_csv(tmp_path / "cancer.csv", index=False)
    version = yard.datasets.ingest(tmp_path / "cancer.csv", name="cancer")
    assert (version.n_rows, version.n_columns) == (569, 31)
    assert yard.datasets.ingest(cancer, name="cancer") == version
    schema = yard.datasets.schema("cancer")
    assert schema["target"].type == "integer"
    assert schema["target"].categories is None
    assert schema["mean radius"].min == pytest.approx(cancer["mean radius"].min())
    assert schema["mean radius"].max == pytest.approx(cancer["mean radius"].max())
    loaded = yard.datasets.load("cancer@1")
    pd.testing.assert_frame_equal(loaded, cancer, check_exact=True)


def _sqlite_file(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, total REAL, day TEXT, note TEXT)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [(1, 9.5, "2024-05-01", "first"), (2, 20.0, "2024-05-02", None),
             (3, 1.25, "2024-05-03", "third")],
        )
    conn.close()


def test_sql_query_from_a_real_sqlite_file(yard: modelyard.Yard, tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    _sqlite_file(db)
    url = f"sqlite:///{db}"
    version = yard.datasets.ingest(
        sql="SELECT id, total, day, note FROM orders ORDER BY id", db_url=url, name="orders"
    )
    assert version.n_rows == 3
    assert version.source.startswith("sql:sqlite:///") and "SELECT id" in version.source
    loaded = yard.datasets.load("orders")
    assert loaded["day"].dtype.kind == "M"
    assert loaded["id"].tolist() == [1, 2, 3]
    same = yard.datasets.ingest_sql("SELECT * FROM orders ORDER BY id", url, name="orders")
    assert same == version
    fewer = yard.datasets.ingest_sql("SELECT * FROM orders WHERE id < 3", url, name="orders")
    assert fewer.version == 2


def test_bad_sql_and_unreachable_databases_are_one_clear_error(
    yard: modelyard.Yard, tmp_path: Path
) -> None:
    db = tmp_path / "shop.db"
    _sqlite_file(db)
    with pytest.raises(InvalidInput, match=r"SQL query failed.*no such table: nope"):
        yard.datasets.ingest_sql("SELECT * FROM nope", f"sqlite:///{db}", name="o")
    with pytest.raises(InvalidInput, match=r"SQL query failed.*syntax error"):
        yard.datasets.ingest_sql("SELEC oops", f"sqlite:///{db}", name="o")
    with pytest.raises(InvalidInput, match="no rows"):
        yard.datasets.ingest_sql("SELECT * FROM orders WHERE id > 99", f"sqlite:///{db}",
                                 name="o")
    with pytest.raises(InvalidInput, match=r"SQLite database file .*missing\.db.*does not exist"):
        yard.datasets.ingest_sql("SELECT 1", f"sqlite:///{tmp_path}/missing.db", name="o")
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(InvalidInput, match="not a SQLAlchemy URL"):
        yard.datasets.ingest_sql("SELECT 1", "not a url", name="o")
    with pytest.raises(StorageUnavailable, match="cannot connect to"):
        yard.datasets.ingest_sql(
            "SELECT 1", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none", name="o"
        )
    with pytest.raises(InvalidInput, match="either a source or sql"):
        yard.datasets.ingest(_frame(), sql="SELECT 1", db_url=f"sqlite:///{db}", name="o")
    with pytest.raises(InvalidInput, match="give data to ingest"):
        yard.datasets.ingest(None, name="o")
    assert yard.datasets.list() == []


def test_hidden_password_in_the_recorded_source(yard: modelyard.Yard) -> None:
    with pytest.raises(StorageUnavailable) as info:
        yard.datasets.ingest_sql(
            "SELECT 1", "postgresql+psycopg://u:hunter2@127.0.0.1:1/db", name="o"
        )
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "error", "pattern"),
    [
        ("a,b\n1,2\n3,4,5,6\n", InvalidInput, r"malformed CSV .*Expected 2 fields"),
        ("", InvalidInput, "is empty"),
        ("a,b\n", InvalidInput, "has no rows"),
        ("a,b,a\n1,2,3\n", InvalidInput, "duplicate column names.*'a'"),
    ],
    ids=["ragged", "empty", "header-only", "duplicate-columns"],
)
def test_malformed_csv_is_one_clear_error(
    yard: modelyard.Yard, tmp_path: Path, content: str, error: type[Exception], pattern: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(error, match=pattern) as info:
        yard.datasets.ingest(path, name="bad")
    assert "bad.csv" in str(info.value)
    assert yard.datasets.list() == []
    assert _blob_count(yard) == 0


def test_bad_paths_and_types_are_one_clear_error(yard: modelyard.Yard, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"file '.*missing\.csv' does not exist; check"):
        yard.datasets.ingest(tmp_path / "missing.csv", name="x")
    with pytest.raises(InvalidInput, match="is a directory"):
        yard.datasets.ingest(tmp_path, name="x")
    (tmp_path / "book.xlsx").write_bytes(b"PK")
    with pytest.raises(InvalidInput, match=r"cannot tell the format .*\.xlsx.*format='csv'"):
        yard.datasets.ingest(tmp_path / "book.xlsx", name="x")
    (tmp_path / "fake.parquet").write_text("not parquet", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a valid Parquet file"):
        yard.datasets.ingest(tmp_path / "fake.parquet", name="x")
    with pytest.raises(InvalidInput, match="cannot ingest a list"):
        yard.datasets.ingest([1, 2], name="x")  # type: ignore[arg-type]


def test_bad_frames_are_one_clear_error(yard: modelyard.Yard) -> None:
    with pytest.raises(InvalidInput, match="duplicate column names: 'a'"):
        yard.datasets.ingest(pd.DataFrame([[1, 2]], columns=["a", "a"]), name="x")
    with pytest.raises(InvalidInput, match="no rows"):
        yard.datasets.ingest(pd.DataFrame({"a": pd.Series([], dtype=int)}), name="x")
    with pytest.raises(InvalidInput, match="no columns"):
        yard.datasets.ingest(pd.DataFrame(), name="x")
    mixed = pd.DataFrame({"m": pd.Series([1, "two", 3.0], dtype=object)})
    with pytest.raises(InvalidInput, match="column 'm' holds values of types"):
        yard.datasets.ingest(mixed, name="x")
    with pytest.raises(InvalidInput, match=r"timedelta64.*cannot store"):
        yard.datasets.ingest(pd.DataFrame({"d": pd.to_timedelta([1, 2], unit="s")}), name="x")


@pytest.mark.parametrize("name", ["", "-lead", "a b", "x" * 101, "na/me", "é"])
def test_invalid_names_are_refused(yard: modelyard.Yard, name: str) -> None:
    with pytest.raises(InvalidInput, match="not a valid dataset name"):
        yard.datasets.ingest(_frame(), name=name)


def test_valid_names_are_accepted(yard: modelyard.Yard) -> None:
    for name in ["a", "9lives", "fraud-2024.v1_b", "x" * 100]:
        assert yard.datasets.ingest(_frame(), name=name).ref == f"{name}@1"


def test_ingest_with_a_schema_refuses_breaking_data(yard: modelyard.Yard) -> None:
    base = yard.datasets.ingest(_frame(), name="tx")
    bad = _frame()
    bad.loc[1, "id"] = -5
    with pytest.raises(ValidationFailed) as info:
        yard.datasets.ingest(bad, name="tx", schema=base.schema)
    assert [(v["column"], v["rule"], v["count"]) for v in info.value.violations] == [
        ("id", "below_min", 1)
    ]
    assert [v.version for v in yard.datasets.versions("tx")] == [1]
    ok = yard.datasets.ingest(_frame().iloc[:3], name="tx",
                              schema=yard.datasets.schema("tx@1"))
    assert ok.version == 2


def test_a_named_index_is_kept_as_a_column(yard: modelyard.Yard) -> None:
    frame = _frame().set_index("id")
    version = yard.datasets.ingest(frame, name="tx")
    assert yard.datasets.load(version).columns[0] == "id"
    assert version == yard.datasets.ingest(_frame(), name="tx")


def test_concurrent_ingests_get_distinct_version_numbers(yard: modelyard.Yard) -> None:
    frames = [pd.DataFrame({"k": [i, i + 1], "v": [0.5 * i, 1.0]}) for i in range(8)]
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(frames))

    def ingest(frame: pd.DataFrame) -> None:
        barrier.wait()
        try:
            results.append(yard.datasets.ingest(frame, name="race").version)
            # Identical content from a racing writer resolves to one version.
            results.append(yard.datasets.ingest(frames[0], name="race").version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(f,)) for f in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = yard.datasets.versions("race")
    assert sorted(v.version for v in versions) == list(range(1, 9))
    assert len({v.content_hash for v in versions}) == 8
