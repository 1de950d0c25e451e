"""log drains: where a service's app output is forwarded

Revision ID: 0012
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "log_drains",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column(
            "service_id",
            sa.String(26),
            sa.ForeignKey("services.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("project_name", sa.String(63), nullable=False),
        sa.Column("service_name", sa.String(63), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cursor", sa.Text),
        sa.Column("delivered", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("locked_by", sa.String(100)),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_log_drains_service_id", "log_drains", ["service_id"])


def downgrade() -> None:
    op.drop_index("ix_log_drains_service_id", table_name="log_drains")
    op.drop_table("log_drains")
