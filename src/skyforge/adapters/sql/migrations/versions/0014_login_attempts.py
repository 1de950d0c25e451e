"""login attempts: failed-login counters and lock-outs that outlive a restart

Revision ID: 0014_login_attempts
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_login_attempts"  # named: other 0014s branch off 0013 too
down_revision = "0013"


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("forget_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("login_attempts")
