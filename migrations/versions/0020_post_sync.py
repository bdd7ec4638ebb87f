"""Store and forward for post nodes: the post's outbox and local flags, HQ's post nodes, flag conflicts.

Revision ID: 0020_post_sync
Revises: 0016_need_to_know
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_post_sync"
down_revision = "0016_need_to_know"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('post_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('refs', sa.JSON(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_post_outbox_idempotency_key'))
    )
    with op.batch_alter_table('post_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_outbox_state'), ['state'], unique=False)

    op.create_table('post_nodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('border_post_id', sa.Integer(), nullable=False),
    sa.Column('api_client_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('watchlist_seq', sa.Integer(), nullable=True),
    sa.Column('backlog', sa.Integer(), nullable=True),
    sa.Column('post_clock', sa.DateTime(timezone=True), nullable=True),
    sa.Column('clock_drift_seconds', sa.Float(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['api_client_id'], ['api_clients.id'],
                            name=op.f('fk_post_nodes_api_client_id_api_clients')),
    sa.ForeignKeyConstraint(['border_post_id'], ['border_posts.id'],
                            name=op.f('fk_post_nodes_border_post_id_border_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_nodes')),
    sa.UniqueConstraint('border_post_id', name=op.f('uq_post_nodes_border_post_id'))
    )
    op.create_table('post_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crossing_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=10), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('alert_kind', sa.String(length=20), nullable=False),
    sa.Column('discreet', sa.Boolean(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('features', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hq_flag_id', sa.Integer(), nullable=True),
    sa.Column('hq_status', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['crossing_id'], ['crossings.id'], name=op.f('fk_post_flags_crossing_id_crossings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_flags')),
    sa.UniqueConstraint('crossing_id', 'person_id', name=op.f('uq_post_flags_crossing_id_person_id'))
    )
    with op.batch_alter_table('post_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_flags_crossing_id'), ['crossing_id'], unique=False)

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conflict_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_flags_conflict_at'), ['conflict_at'], unique=False)



def downgrade():
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_conflict_at'))
        batch_op.drop_column('conflict_at')

    with op.batch_alter_table('post_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_flags_crossing_id'))

    op.drop_table('post_flags')
    op.drop_table('post_nodes')
    with op.batch_alter_table('post_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_outbox_state'))

    op.drop_table('post_outbox')
