"""process_instance.timer_lease_until, a sweep's claim on an instance's due timers while it fires them;
ix_process_instance_due (status, next_timer_at), so a sweep takes the earliest due without sorting them all
(it replaces ix_process_instance_next_timer_at: every query on next_timer_at also asks for status)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 22:40:00
"""
import sqlalchemy as sa
from alembic import op

import db.models.base

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timer_lease_until', db.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_process_instance_due', ['status', 'next_timer_at'], unique=False)
        batch_op.drop_index('ix_process_instance_next_timer_at')


def downgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index('ix_process_instance_next_timer_at', ['next_timer_at'], unique=False)
        batch_op.drop_index('ix_process_instance_due')
        batch_op.drop_column('timer_lease_until')
