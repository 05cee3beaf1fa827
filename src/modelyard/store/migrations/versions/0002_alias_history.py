"""Alias history, version descriptions, and version counters that never reuse a number.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table, versions, key in (("datasets", "dataset_versions", "dataset_id"),
                                 ("models", "model_versions", "model_id")):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("last_version", sa.Integer(), nullable=False, server_default="0")
            )
        op.execute(
            f"UPDATE {table} SET last_version = COALESCE((SELECT MAX(v.version) "
            f"FROM {versions} v WHERE v.{key} = {table}.id), 0)"
        )
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "alias_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(100), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="CASCADE",
                                name="fk_alias_events_model_id_models"),
        sa.PrimaryKeyConstraint("id", name="pk_alias_events"),
    )
    op.create_index("ix_alias_events_model_id", "alias_events", ["model_id"])
    # Existing aliases get a first history entry so `models alias --history` is complete.
    op.execute(
        "INSERT INTO alias_events (model_id, alias, from_version, to_version, reason, at) "
        "SELECT a.model_id, a.alias, NULL, v.version, 'recorded by upgrade 0002', a.updated_at "
        "FROM aliases a JOIN model_versions v ON v.id = a.version_id"
    )


def downgrade() -> None:
    for table in ("datasets", "models"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("last_version")
    op.drop_table("alias_events")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("description")
