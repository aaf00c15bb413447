"""api tokens, rate limits, webhooks

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 17:02:25
"""
import sqlalchemy as sa
from alembic import op

import db.models.base

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_limit_bucket',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('window_start', db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_limit_bucket')),
    sa.UniqueConstraint('key', 'window_start', name='uq_rate_limit_bucket_window')
    )
    with op.batch_alter_table('rate_limit_bucket', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_limit_bucket_window_start'), ['window_start'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('roles', sa.String(length=200), nullable=False),
    sa.Column('created_at', db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_api_token_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_token_token_sha256'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('webhook',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=120), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_webhook_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook'))
    )
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_process_key'), ['process_key'], unique=False)

    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', db.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', db.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_webhook_delivery_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhook.id'], name=op.f('fk_webhook_delivery_webhook_id_webhook')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery')),
    sa.UniqueConstraint('webhook_id', 'instance_id', 'event', name='uq_webhook_delivery_event')
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_webhook_id'), ['webhook_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_webhook_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_instance_id'))
        batch_op.drop_index('ix_webhook_delivery_due')

    op.drop_table('webhook_delivery')
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_process_key'))

    op.drop_table('webhook')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    with op.batch_alter_table('rate_limit_bucket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_limit_bucket_window_start'))

    op.drop_table('rate_limit_bucket')
