"""Indexes for the quality metrics (bot/quality): each report reads a date range of the
event log, the tickets opened or resolved in it and the SLA clocks started in it, so
those reads follow the range instead of scanning the whole history.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:00:00
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_ticket_events_kind_at', 'ticket_events', ['kind', 'at'])
    op.create_index('ix_tickets_created_at', 'tickets', ['created_at'])
    op.create_index('ix_tickets_resolved_at', 'tickets', ['resolved_at'])
    op.create_index('ix_sla_clocks_started_at', 'sla_clocks', ['started_at'])


def downgrade() -> None:
    op.drop_index('ix_sla_clocks_started_at', table_name='sla_clocks')
    op.drop_index('ix_tickets_resolved_at', table_name='tickets')
    op.drop_index('ix_tickets_created_at', table_name='tickets')
    op.drop_index('ix_ticket_events_kind_at', table_name='ticket_events')
