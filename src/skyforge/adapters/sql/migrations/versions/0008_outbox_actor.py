"""outbox rows say who caused the event

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("actor", sa.String(320)))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("actor")
