"""merge the input checks (config versions, fork previews, domain claims, idempotency keys)

Revision ID: 0022
Revises: 0021, 0017_input_idempotency_keys
"""

revision = "0022"
down_revision = ("0021", "0017_input_idempotency_keys")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
