"""a hostname may be claimed by several projects until one verifies it

One claim per hostname and project; at most one ready (verified) claim per hostname.

Revision ID: 0016_input_domain_claims
Revises: 0015_input_withhold_secrets
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_input_domain_claims"
down_revision = "0015_input_withhold_secrets"
READY = sa.text("status = 'ready'")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("domains_hostname_key", "domains", type_="unique")
        op.create_unique_constraint(
            "uq_domains_hostname_project", "domains", ["hostname", "project_id"]
        )
    else:
        # SQLite keeps the old constraint unnamed: the convention names it to drop it.
        convention = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
        with op.batch_alter_table("domains", naming_convention=convention) as batch:
            batch.drop_constraint("uq_domains_hostname", type_="unique")
            batch.create_unique_constraint(
                "uq_domains_hostname_project", ["hostname", "project_id"]
            )
    op.create_index(
        "uq_domains_ready_hostname",
        "domains",
        ["hostname"],
        unique=True,
        sqlite_where=READY,
        postgresql_where=READY,
    )


def downgrade() -> None:
    op.drop_index("uq_domains_ready_hostname", table_name="domains")
    # The name upgrade() drops again: PostgreSQL's own for the original, the convention's on SQLite.
    postgres = op.get_bind().dialect.name == "postgresql"
    name = "domains_hostname_key" if postgres else "uq_domains_hostname"
    with op.batch_alter_table("domains") as batch:
        batch.drop_constraint("uq_domains_hostname_project", type_="unique")
        batch.create_unique_constraint(name, ["hostname"])
