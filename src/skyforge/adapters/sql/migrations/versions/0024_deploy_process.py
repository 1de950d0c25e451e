"""a restart deploy's process type

Revision ID: 0024_deploy_process
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_deploy_process"
down_revision = "0023"


def upgrade() -> None:
    with op.batch_alter_table("deploys") as batch:
        batch.add_column(sa.Column("process", sa.String(30)))


def downgrade() -> None:
    with op.batch_alter_table("deploys") as batch:
        batch.drop_column("process")
