"""merge the webhooks, git push, job trace and log drain branches

Revision ID: 0013
Revises: 0009, 0010, 0011, 0012
"""

revision = "0013"
down_revision = ("0009", "0010", "0011", "0012")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
