"""process_instance.external_key: the calling system's own key, for instances started through the API

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 17:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_key', sa.String(length=120), nullable=True))
        batch_op.create_index(batch_op.f('ix_process_instance_external_key'), ['external_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_instance_external_key'))
        batch_op.drop_column('external_key')
