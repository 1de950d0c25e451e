"""merge the databases and domains branches

Revision ID: 0007
Revises: 0005, 0006
"""

revision = "0007"
down_revision = ("0005", "0006")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
