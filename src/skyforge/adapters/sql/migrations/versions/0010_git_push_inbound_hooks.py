"""git push deploys (a deploy's source override) inbound git-provider hooks, previews

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("deploys") as batch:
        batch.add_column(sa.Column("source_url", sa.String(2048)))
        batch.add_column(sa.Column("source_branch", sa.String(255)))
        batch.add_column(sa.Column("source_commit", sa.String(64)))
    op.create_table(
        "inbound_hooks",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("project_id", sa.String(length=26), nullable=False),
        sa.Column("project_name", sa.String(length=63), nullable=False),
        sa.Column("service_id", sa.String(length=26), nullable=False),
        sa.Column("service_name", sa.String(length=63), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_inbound_hooks_service_id"), "inbound_hooks", ["service_id"], unique=False
    )
    op.create_table(
        "inbound_deliveries",
        sa.Column("hook_id", sa.String(length=26), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hook_id"], ["inbound_hooks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("hook_id", "delivery_id"),
    )
    op.create_table(
        "previews",
        sa.Column("service_id", sa.String(length=26), nullable=False),
        sa.Column("project_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("parent_service_id", sa.String(length=26), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_service_id"], ["services.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("service_id"),
        sa.UniqueConstraint("parent_service_id", "number"),
    )


def downgrade() -> None:
    op.drop_table("previews")
    op.drop_table("inbound_deliveries")
    op.drop_index(op.f("ix_inbound_hooks_service_id"), table_name="inbound_hooks")
    op.drop_table("inbound_hooks")
    with op.batch_alter_table("deploys") as batch:
        batch.drop_column("source_commit")
        batch.drop_column("source_branch")
        batch.drop_column("source_url")
