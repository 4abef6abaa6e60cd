"""processed_events.claimed_by: which process handles a Slack event, so a retry of an
event whose process died mid-handling is handled again (bot.liveness)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 17:55:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('processed_events') as batch:
        batch.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('processed_events') as batch:
        batch.drop_column('claimed_by')
