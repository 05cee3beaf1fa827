"""One stored result per monitoring window: a unique key on (model, start, end).

Two monitor passes at once could each find no row for a window and both insert one. The
duplicates already stored are removed first, keeping the newest result of each window.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM monitor_windows WHERE id NOT IN ("
        " SELECT keep FROM (SELECT MAX(id) AS keep FROM monitor_windows"
        " GROUP BY model, window_start, window_end) AS newest)")
    op.create_index("ux_monitor_windows_span", "monitor_windows",
                    ["model", "window_start", "window_end"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_monitor_windows_span", table_name="monitor_windows")
