"""csat_responses: customers' satisfaction scores, one per resolution of a ticket
(issue 12: customer messages and CSAT after escalation)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:40:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'csat_responses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('resolution', sa.Integer(), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('responder_id', sa.String(length=20), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('answered_at', sa.DateTime(), nullable=False),
        sa.Column('first_answered_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('score BETWEEN 1 AND 5', name='ck_csat_score'),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('ticket_id', 'resolution', name='uq_csat_response'),
    )
    op.create_index('ix_csat_responses_ticket_id', 'csat_responses', ['ticket_id'])
    op.create_index('ix_csat_responses_answered_at', 'csat_responses', ['answered_at'])


def downgrade() -> None:
    op.drop_index('ix_csat_responses_answered_at', table_name='csat_responses')
    op.drop_index('ix_csat_responses_ticket_id', table_name='csat_responses')
    op.drop_table('csat_responses')
