"""API keys scoped to models and rate-limited: ``scope`` (model-name patterns) and
``rate_per_s`` (requests per second, null for no limit).

Existing keys keep their reach: scope ``*`` (every model), no rate limit.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("scope", sa.String(200), nullable=False,
                                   server_default="*"))
        batch.add_column(sa.Column("rate_per_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rate_per_s")
        batch.drop_column("scope")
