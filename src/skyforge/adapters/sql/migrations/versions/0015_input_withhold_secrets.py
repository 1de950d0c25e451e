"""services may be kept from every secret: previews of pull requests from forks

Revision ID: 0015_input_withhold_secrets
Revises: 0014_input_config_version
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_input_withhold_secrets"
down_revision = "0014_input_config_version"


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(
            sa.Column("withhold_secrets", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("withhold_secrets")
