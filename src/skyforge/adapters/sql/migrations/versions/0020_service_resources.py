"""services: their own resource limits

Revision ID: 0020
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0014"


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("resources", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("resources")
