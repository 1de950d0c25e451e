"""services count their config changes: the env's ETag, and the version a config release holds

Revision ID: 0014_input_config_version
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_input_config_version"
down_revision = "0013"


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(
            sa.Column("config_version", sa.Integer, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("config_version")
