"""workflow_task: settled tasks of an instance's state stored once

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 16:00:00

Instances saved before this revision keep their whole state in process_instance.state; the
engine reads that as before and moves the settled tasks here at the instance's next save.
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workflow_task',
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_workflow_task_instance_id_process_instance')),
    sa.PrimaryKeyConstraint('instance_id', 'task_id', name=op.f('pk_workflow_task'))
    )


def downgrade() -> None:
    # Fold the settled tasks back into each instance's state before the table goes.
    conn = op.get_bind()
    settled: dict[int, dict] = {}
    for instance_id, task_id, data in conn.execute(sa.text("SELECT instance_id, task_id, data FROM workflow_task")):
        settled.setdefault(instance_id, {})[task_id] = json.loads(data)
    for instance_id, tasks in settled.items():
        state = json.loads(conn.execute(sa.text("SELECT state FROM process_instance WHERE id = :i"),
                                        {"i": instance_id}).scalar())
        state["tasks"] = {**tasks, **state["tasks"]}
        conn.execute(sa.text("UPDATE process_instance SET state = :s WHERE id = :i"),
                     {"s": json.dumps(state, ensure_ascii=False, separators=(",", ":")), "i": instance_id})
    op.drop_table('workflow_task')
