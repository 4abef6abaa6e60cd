"""Coverage: user group rosters, on-call overrides, and the last noted on-call shift
per level (bot.coverage)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:50:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'usergroup_rosters',
        sa.Column('group_id', sa.String(length=20), primary_key=True),
        sa.Column('members', sa.JSON(), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'oncall_overrides',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('user_id', sa.String(length=20), nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=False),
        sa.Column('ends_at', sa.DateTime(), nullable=False),
        sa.Column('set_by', sa.String(length=20), nullable=False),
        sa.Column('cleared_at', sa.DateTime(), nullable=True),
        sa.Column('cleared_by', sa.String(length=20), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_oncall_overrides_level_ends', 'oncall_overrides', ['level', 'ends_at'])
    op.create_table(
        'oncall_shifts',
        sa.Column('level', sa.String(length=20), primary_key=True),
        sa.Column('shift', sa.String(length=60), nullable=False),
        sa.Column('user_id', sa.String(length=20), nullable=True),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('oncall_shifts')
    op.drop_index('ix_oncall_overrides_level_ends', table_name='oncall_overrides')
    op.drop_table('oncall_overrides')
    op.drop_table('usergroup_rosters')
