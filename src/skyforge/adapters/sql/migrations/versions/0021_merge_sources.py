"""merge the sealed git source credentials with the rest of the tenant isolation work

Revision ID: 0021
Revises: 0020, 0014_git_source_credentials
"""

revision = "0021"
down_revision = ("0020", "0014_git_source_credentials")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
