"""signing keys and log drain URLs are stored only sealed

The access tokens' signing keys were stored in plaintext: whoever could read the database may
hold them, so they are dropped rather than sealed (the access tokens they signed stop working;
a client refreshes, and the next login or refresh makes a new key, stored sealed). Log drain
URLs, which may carry a token, are sealed under the secrets' master keys, bound to their drain
(the binding `log-drain:<id>` of logdrains.model.url_binding).

Revision ID: 0014
Revises: 0013
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"

_drains = sa.table(
    "log_drains",
    sa.column("id", sa.String),
    sa.column("url", sa.String),
    sa.column("sealed_url", sa.LargeBinary),
)


def _sealer() -> Any:
    config = op.get_context().config
    sealer = None if config is None else config.attributes.get("sealer")
    if sealer is None:
        raise RuntimeError(
            "log drain URLs are stored in plaintext: sealing them needs the secrets' master "
            "key (start SkyForge, which migrates with it)"
        )
    return sealer


def _binding(drain_id: str) -> bytes:
    return f"log-drain:{drain_id}".encode()


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM signing_keys"))
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("private_jwk")
        batch.add_column(sa.Column("sealed_private_jwk", sa.LargeBinary, nullable=False))

    with op.batch_alter_table("log_drains") as batch:
        batch.add_column(sa.Column("sealed_url", sa.LargeBinary))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_drains.c.id, _drains.c.url)).all()
    if rows:
        sealer = _sealer()
        for drain_id, url in rows:
            sealed = sealer.seal(url.encode(), _binding(drain_id))
            conn.execute(_drains.update().where(_drains.c.id == drain_id).values(sealed_url=sealed))
    with op.batch_alter_table("log_drains") as batch:
        batch.alter_column("sealed_url", existing_type=sa.LargeBinary, nullable=False)
        batch.drop_column("url")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM signing_keys"))
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("sealed_private_jwk")
        batch.add_column(sa.Column("private_jwk", sa.JSON, nullable=False))

    with op.batch_alter_table("log_drains") as batch:
        batch.add_column(sa.Column("url", sa.String(2048)))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_drains.c.id, _drains.c.sealed_url)).all()
    if rows:
        sealer = _sealer()
        for drain_id, sealed in rows:
            url = sealer.open(sealed, _binding(drain_id)).decode()
            conn.execute(_drains.update().where(_drains.c.id == drain_id).values(url=url))
    with op.batch_alter_table("log_drains") as batch:
        batch.alter_column("url", existing_type=sa.String(2048), nullable=False)
        batch.drop_column("sealed_url")
