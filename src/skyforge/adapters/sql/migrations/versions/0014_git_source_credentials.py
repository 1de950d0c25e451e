"""git source credentials sealed: services.git_credentials; none left in URLs of deploys

Credentials an earlier version kept in `services.git_url` are sealed at start-up (the master
keys are not known here); deploys only ever needed the URL, so theirs lose the credentials.

Revision ID: 0014_git_source_credentials
Revises: 0013
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0014_git_source_credentials"
down_revision = "0013"

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("git_credentials", sa.LargeBinary()))
    conn = op.get_bind()
    deploys = sa.table("deploys", sa.column("id", sa.String), sa.column("source_url", sa.String))
    found = conn.execute(
        sa.select(deploys.c.id, deploys.c.source_url).where(deploys.c.source_url.like("%@%"))
    ).all()
    for deploy_id, url in found:
        bare = _USERINFO.sub(r"\1", url)
        if bare != url:
            conn.execute(deploys.update().where(deploys.c.id == deploy_id).values(source_url=bare))


def downgrade() -> None:
    # The sealed credentials go with the column (they cannot be opened here): sources that
    # needed them must be given their credentials again.
    with op.batch_alter_table("services") as batch:
        batch.drop_column("git_credentials")
