"""channel_pacing.not_before indexed: the outbox worker looks it up on every wake-up

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:10:00
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_channel_pacing_not_before', 'channel_pacing', ['not_before'])


def downgrade() -> None:
    op.drop_index('ix_channel_pacing_not_before', table_name='channel_pacing')
