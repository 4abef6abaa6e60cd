"""tickets.imported, source_id: past tickets from a helpdesk export (`escalator
import`), kept apart from the live desk and unique by their source id

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('imported', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('source_id', sa.String(length=120), nullable=True))
        batch.create_unique_constraint('uq_tickets_source_id', ['source_id'])


def downgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.drop_constraint('uq_tickets_source_id', type_='unique')
        batch.drop_column('source_id')
        batch.drop_column('imported')
