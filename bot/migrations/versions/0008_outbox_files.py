"""outbox_files: the files an outbox row uploads and shares (the monthly review's charts),
with each upload step recorded (bot.slack_upload)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:00:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('title', sa.String(length=250), nullable=False),
        sa.Column('alt_text', sa.Text(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('file_id', sa.String(length=40), nullable=True),
        sa.Column('upload_url', sa.Text(), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_outbox_files_outbox_id', 'outbox_files', ['outbox_id'])


def downgrade() -> None:
    op.drop_index('ix_outbox_files_outbox_id', table_name='outbox_files')
    op.drop_table('outbox_files')
