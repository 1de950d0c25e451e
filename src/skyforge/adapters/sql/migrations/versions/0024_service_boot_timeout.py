"""services: their own boot timeout

Revision ID: 0024_service_boot_timeout
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_service_boot_timeout"
down_revision = "0023"


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("boot_timeout", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("boot_timeout")
