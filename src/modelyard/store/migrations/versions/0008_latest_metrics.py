"""Each run's latest value per metric key, in a table of its own: ``latest_metrics``.

Run lists sort and filter by a metric's latest value; reading it from the history (``metrics``,
one row per logged value, 20 million rows for 10,000 runs of 20 metrics of 100 steps) costs a
walk per run and key. The new table holds one row per run and key, keyed ``(run_id, key)``,
with an index on ``(key, value, run_id)`` for sorting and filtering, as MLflow's
``latest_metrics``; on SQLite the table is ``WITHOUT ROWID`` (clustered by its key).

Latest means: the highest step, then the latest timestamp, then the last logged (the highest
id), i.e. the last value of a metric's history as ``metric_history`` orders it. Existing runs
are filled here in one ``INSERT ... SELECT``; from now on every metric write keeps the table up
to date. Deleting a run deletes its rows (foreign key with ``ON DELETE CASCADE``).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE",
                                name="fk_latest_metrics_run_id_runs"),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_latest_metrics"),
        sqlite_with_rowid=False,  # clustered by (run_id, key): one seek per run and key
    )
    # each run's and key's highest step, from a walk of the (run_id, key, step) index
    # (covering: no table row read), then one seek per key for the row at that step (latest
    # timestamp, then highest id): ten times faster on SQLite than ranking every row with
    # a window function. The index comes after the fill, which is faster than keeping it up
    # to date row by row.
    at_top = ("FROM metrics m WHERE m.run_id = top.run_id AND m.key = top.key AND m.step = "
              "top.step ORDER BY m.timestamp DESC, m.id DESC LIMIT 1")
    op.execute(
        "INSERT INTO latest_metrics (run_id, key, value, step, timestamp) "
        f"SELECT top.run_id, top.key, (SELECT m.value {at_top}), top.step, "
        f"(SELECT m.timestamp {at_top}) "
        "FROM (SELECT run_id, key, MAX(step) AS step FROM metrics GROUP BY run_id, key) AS top")
    # run_id too: a filter's range of the index yields run ids without reading the table
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_latest_metrics_key_value", table_name="latest_metrics")
    op.drop_table("latest_metrics")
