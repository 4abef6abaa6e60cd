"""ticket_stays: each ticket's time at one level (bot.quality.stays), kept beside the
event log so the quality metrics read a range of stays instead of a window over every
event of the range's tickets; filled from the events already recorded.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# A frozen copy of bot.quality.stays.rebuild's statement as of this revision: a migration
# must keep meaning what it meant when later revisions change the table or the code.
_FILL = """
    INSERT INTO ticket_stays (ticket_id, stay, level, arrived_by, arrived_at, acknowledged_at, left_at, resolutions)
    WITH ev AS (SELECT e.ticket_id, e.kind, e.at, e.to_level,
                       SUM(CASE WHEN e.kind IN ('opened', 'escalated', 'deescalated', 'reopened') THEN 1 ELSE 0 END)
                           OVER (PARTITION BY e.ticket_id ORDER BY e.id ROWS UNBOUNDED PRECEDING) AS stay
                FROM ticket_events e
                WHERE e.kind IN ('opened', 'escalated', 'deescalated', 'reopened', 'acknowledged', 'resolved')),
         stays AS (SELECT ticket_id, stay,
                          MAX(CASE WHEN kind IN ('opened', 'escalated', 'deescalated', 'reopened') THEN to_level END) AS level,
                          MAX(CASE WHEN kind IN ('opened', 'escalated', 'deescalated', 'reopened') THEN kind END) AS arrived_by,
                          MIN(CASE WHEN kind IN ('opened', 'escalated', 'deescalated', 'reopened') THEN at END) AS arrived_at,
                          MIN(CASE WHEN kind = 'acknowledged' THEN at END) AS acknowledged_at,
                          MIN(CASE WHEN kind = 'resolved' THEN at END) AS resolved_at,
                          SUM(CASE WHEN kind = 'resolved' THEN 1 ELSE 0 END) AS resolutions
                   FROM ev WHERE stay > 0 GROUP BY ticket_id, stay)
    SELECT ticket_id, stay, level, arrived_by, arrived_at, acknowledged_at,
           COALESCE(resolved_at, LEAD(arrived_at) OVER (PARTITION BY ticket_id ORDER BY stay)), resolutions
    FROM stays"""


def upgrade() -> None:
    op.create_table(
        'ticket_stays',
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('stay', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('arrived_by', sa.String(length=40), nullable=False),
        sa.Column('arrived_at', sa.DateTime(), nullable=False),
        sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
        sa.Column('left_at', sa.DateTime(), nullable=True),
        sa.Column('resolutions', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('ticket_id', 'stay'),
    )
    # covering: the metrics read a range of stays from the index alone
    op.create_index('ix_ticket_stays_arrived_at', 'ticket_stays', ['arrived_at', 'level', 'acknowledged_at', 'left_at'])
    op.execute(_FILL)


def downgrade() -> None:
    op.drop_index('ix_ticket_stays_arrived_at', table_name='ticket_stays')
    op.drop_table('ticket_stays')
