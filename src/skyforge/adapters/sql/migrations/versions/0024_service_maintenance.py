"""services may be in maintenance: the edge answers a maintenance page, the app keeps running

Revision ID: 0024_service_maintenance
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_service_maintenance"
down_revision = "0023"


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(
            sa.Column("maintenance", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("maintenance")
