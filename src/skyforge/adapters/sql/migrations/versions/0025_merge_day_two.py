"""merge the boot timeout, one-off process and maintenance columns

Revision ID: 0025
Revises: 0024_service_boot_timeout, 0024_deploy_process, 0024_service_maintenance
"""

revision = "0025"
down_revision = ("0024_service_boot_timeout", "0024_deploy_process", "0024_service_maintenance")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
