"""audit chain: hash-chained, append-only audit_event; the auditor's search indexes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 14:00:00

Events written before this revision are chained here, in id order, with the same canonical
form the engine uses (db/audit_hash.py). From now on the engine assigns ids itself, under the
chain lock, so the id column loses its PostgreSQL sequence default. Triggers then refuse any
UPDATE or DELETE (and TRUNCATE on PostgreSQL) of audit_event.
"""
import sqlalchemy as sa
from alembic import op

import db.models.base
from db.audit_hash import GENESIS, event_hash

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

REFUSAL = "audit_event is append-only: rows cannot be changed or removed"

PG_FUNCTION = f"""
CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{REFUSAL} (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$"""
PG_TRIGGERS = (
    "CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()",
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
    f"CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
)

EVENTS = sa.table(
    "audit_event", sa.column("id", sa.Integer), sa.column("occurred_at", db.models.base.UTCDateTime()),
    sa.column("actor_id", sa.Integer), sa.column("actor_name", sa.String), sa.column("role", sa.String),
    sa.column("org_unit_id", sa.Integer), sa.column("action", sa.String), sa.column("instance_id", sa.Integer),
    sa.column("task_id", sa.Integer), sa.column("task_name", sa.String), sa.column("opinion", sa.Text),
    sa.column("data", sa.JSON), sa.column("client_addr", sa.String), sa.column("on_behalf_of_id", sa.Integer),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String))


def _chain_existing(conn) -> None:
    prev = GENESIS
    updates = []
    for row in conn.execute(sa.select(EVENTS).order_by(EVENTS.c.id)).mappings():
        digest = event_hash(row, prev)
        updates.append({"row_id": row["id"], "prev": prev, "digest": digest})
        prev = digest
    if updates:
        conn.execute(EVENTS.update().where(EVENTS.c.id == sa.bindparam("row_id"))
                     .values(prev_hash=sa.bindparam("prev"), hash=sa.bindparam("digest")), updates)


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _chain_existing(conn)
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_index('ix_audit_event_action')
        batch_op.drop_index('ix_audit_event_actor_id')
        batch_op.create_index('ix_audit_event_actor_time', ['actor_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_unit_time', ['org_unit_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_action_time', ['action', 'occurred_at', 'id'], unique=False)
    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_event ALTER COLUMN id DROP DEFAULT")
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER audit_event_no_update_delete ON audit_event")
        op.execute("DROP FUNCTION audit_event_refuse_change()")
        op.execute("CREATE SEQUENCE IF NOT EXISTS audit_event_id_seq OWNED BY audit_event.id")
        op.execute("SELECT setval('audit_event_id_seq', COALESCE((SELECT max(id) FROM audit_event), 0) + 1, false)")
        op.execute("ALTER TABLE audit_event ALTER COLUMN id SET DEFAULT nextval('audit_event_id_seq')")
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_action_time')
        batch_op.drop_index('ix_audit_event_unit_time')
        batch_op.drop_index('ix_audit_event_actor_time')
        batch_op.create_index('ix_audit_event_actor_id', ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_event_action', ['action'], unique=False)
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
