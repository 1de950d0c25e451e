"""merge the login attempts kept in the database with the rest of the tenant isolation work

Revision ID: 0023
Revises: 0022, 0014_login_attempts
"""

revision = "0023"
down_revision = ("0022", "0014_login_attempts")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
