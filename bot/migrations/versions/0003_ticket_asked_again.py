"""tickets.asked_again: the customer escalated again (a criteria-matrix fact)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 00:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('asked_again', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.drop_column('asked_again')
