"""Case management: cases, persons in cases, referrals, tasks, evidence.

Revision ID: 0003_cases
Revises: 0002_screening
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_cases"
down_revision = "0002_screening"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_reference_counters',
    sa.Column('prefix', sa.String(length=8), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', 'year', name=op.f('pk_case_reference_counters'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closure_reason', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_cases_created_by_id_users')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_cases_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('reference', name=op.f('uq_cases_reference'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_stage'), ['stage'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)

    op.create_table('case_closure_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('target_status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_closure_requests_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_case_closure_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_case_closure_requests_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_closure_requests'))
    )
    with op.batch_alter_table('case_closure_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_closure_requests_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_closure_requests_decision'), ['decision'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('summary', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_case_events_actor_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_evidence_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_case_evidence_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_evidence')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_case_evidence_stored_name'))
    )
    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_evidence_case_id'), ['case_id'], unique=False)

    op.create_table('case_field_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('object_type', sa.String(length=20), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_case_field_changes_actor_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_field_changes_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_field_changes'))
    )
    with op.batch_alter_table('case_field_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_field_changes_case_id'), ['case_id'], unique=False)

    op.create_table('case_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('object_type', sa.String(length=16), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_links_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_links_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_links')),
    sa.UniqueConstraint('case_id', 'object_type', 'object_id', name=op.f('uq_case_links_case_id_object_type_object_id'))
    )
    with op.batch_alter_table('case_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_links_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_links_object', ['object_type', 'object_id'], unique=False)

    op.create_table('case_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_case_notes_author_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_notes_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notes'))
    )
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_notes_case_id'), ['case_id'], unique=False)

    op.create_table('case_persons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('trafficking_status', sa.String(length=32), nullable=True),
    sa.Column('status_decided_by', sa.String(length=40), nullable=True),
    sa.Column('exploitation_types', sa.JSON(), nullable=True),
    sa.Column('forced_labour_industry', sa.String(length=1), nullable=True),
    sa.Column('sex_exploitation_type', sa.String(length=32), nullable=True),
    sa.Column('methods_of_control', sa.JSON(), nullable=True),
    sa.Column('recruitment_method', sa.String(length=40), nullable=True),
    sa.Column('recruitment_place', sa.String(length=160), nullable=True),
    sa.Column('exploitation_place', sa.String(length=160), nullable=True),
    sa.Column('relationship_to_trafficker', sa.String(length=16), nullable=True),
    sa.Column('age_when_trafficked', sa.Integer(), nullable=True),
    sa.Column('perpetrator_role', sa.String(length=32), nullable=True),
    sa.Column('role_details', sa.Text(), nullable=True),
    sa.Column('organisation', sa.String(length=160), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_case_persons_added_by_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_persons_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_case_persons_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_persons')),
    sa.UniqueConstraint('case_id', 'person_id', 'role', name=op.f('uq_case_persons_case_id_person_id_role'))
    )
    with op.batch_alter_table('case_persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_persons_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_persons_person_id'), ['person_id'], unique=False)

    op.create_table('case_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_case_tasks_assignee_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_tasks_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_case_tasks_completed_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_tasks_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_tasks'))
    )
    with op.batch_alter_table('case_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_tasks_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_tasks_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_tasks_due_on'), ['due_on'], unique=False)

    op.create_table('case_team_members',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_team_members_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_team_members_user_id_users')),
    sa.PrimaryKeyConstraint('case_id', 'user_id', name=op.f('pk_case_team_members'))
    )
    with op.batch_alter_table('case_team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_team_members_user_id'), ['user_id'], unique=False)

    op.create_table('case_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('case_person_id', sa.Integer(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('share_with', sa.Text(), nullable=True),
    sa.Column('retention', sa.String(length=160), nullable=True),
    sa.Column('informed_of_withdrawal', sa.Boolean(), nullable=False),
    sa.Column('given_by', sa.String(length=16), nullable=False),
    sa.Column('given_by_name', sa.String(length=120), nullable=True),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawal_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_consents_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_person_id'], ['case_persons.id'], name=op.f('fk_case_consents_case_person_id_case_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_case_consents_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['withdrawn_recorded_by_id'], ['users.id'], name=op.f('fk_case_consents_withdrawn_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_consents'))
    )
    with op.batch_alter_table('case_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_consents_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_consents_case_person_id'), ['case_person_id'], unique=False)

    op.create_table('case_person_matches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_person_id', sa.Integer(), nullable=False),
    sa.Column('other_case_person_id', sa.Integer(), nullable=True),
    sa.Column('other_person_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('explanations', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_person_id'], ['case_persons.id'], name=op.f('fk_case_person_matches_case_person_id_case_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['other_case_person_id'], ['case_persons.id'], name=op.f('fk_case_person_matches_other_case_person_id_case_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['other_person_id'], ['persons.id'], name=op.f('fk_case_person_matches_other_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_person_matches'))
    )
    with op.batch_alter_table('case_person_matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_person_matches_case_person_id'), ['case_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_person_matches_other_case_person_id'), ['other_case_person_id'], unique=False)

    op.create_table('case_support_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('case_person_id', sa.Integer(), nullable=True),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('objectives', sa.Text(), nullable=False),
    sa.Column('action_plan', sa.Text(), nullable=True),
    sa.Column('planned_end', sa.Date(), nullable=True),
    sa.Column('actual_end', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_support_plans_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_person_id'], ['case_persons.id'], name=op.f('fk_case_support_plans_case_person_id_case_persons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_support_plans_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_support_plans'))
    )
    with op.batch_alter_table('case_support_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_support_plans_case_id'), ['case_id'], unique=False)

    op.create_table('case_trafficking_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('case_person_id', sa.Integer(), nullable=True),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=True),
    sa.Column('place', sa.String(length=160), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_trafficking_events_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_person_id'], ['case_persons.id'], name=op.f('fk_case_trafficking_events_case_person_id_case_persons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_trafficking_events_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_trafficking_events'))
    )
    with op.batch_alter_table('case_trafficking_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_trafficking_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('case_person_id', sa.Integer(), nullable=True),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('organisation', sa.String(length=160), nullable=False),
    sa.Column('organisation_type', sa.String(length=40), nullable=True),
    sa.Column('primary_case_worker', sa.String(length=120), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('referred_on', sa.Date(), nullable=False),
    sa.Column('includes_identifying_data', sa.Boolean(), nullable=False),
    sa.Column('consent_id', sa.Integer(), nullable=True),
    sa.Column('override_by_id', sa.Integer(), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ack_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_referrals_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_person_id'], ['case_persons.id'], name=op.f('fk_case_referrals_case_person_id_case_persons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['consent_id'], ['case_consents.id'], name=op.f('fk_case_referrals_consent_id_case_consents')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_referrals_created_by_id_users')),
    sa.ForeignKeyConstraint(['override_by_id'], ['users.id'], name=op.f('fk_case_referrals_override_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_referrals'))
    )
    with op.batch_alter_table('case_referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_referrals_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_referrals_status'), ['status'], unique=False)



def downgrade():
    with op.batch_alter_table('case_referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_referrals_status'))
        batch_op.drop_index(batch_op.f('ix_case_referrals_case_id'))

    op.drop_table('case_referrals')
    with op.batch_alter_table('case_trafficking_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_trafficking_events_case_id'))

    op.drop_table('case_trafficking_events')
    with op.batch_alter_table('case_support_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_support_plans_case_id'))

    op.drop_table('case_support_plans')
    with op.batch_alter_table('case_person_matches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_person_matches_other_case_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_person_matches_case_person_id'))

    op.drop_table('case_person_matches')
    with op.batch_alter_table('case_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_consents_case_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_consents_case_id'))

    op.drop_table('case_consents')
    with op.batch_alter_table('case_team_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_team_members_user_id'))

    op.drop_table('case_team_members')
    with op.batch_alter_table('case_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_tasks_due_on'))
        batch_op.drop_index(batch_op.f('ix_case_tasks_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_tasks_assignee_id'))

    op.drop_table('case_tasks')
    with op.batch_alter_table('case_persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_persons_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_persons_case_id'))

    op.drop_table('case_persons')
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_notes_case_id'))

    op.drop_table('case_notes')
    with op.batch_alter_table('case_links', schema=None) as batch_op:
        batch_op.drop_index('ix_case_links_object')
        batch_op.drop_index(batch_op.f('ix_case_links_case_id'))

    op.drop_table('case_links')
    with op.batch_alter_table('case_field_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_field_changes_case_id'))

    op.drop_table('case_field_changes')
    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_evidence_case_id'))

    op.drop_table('case_evidence')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('case_closure_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_closure_requests_decision'))
        batch_op.drop_index(batch_op.f('ix_case_closure_requests_case_id'))

    op.drop_table('case_closure_requests')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_stage'))
        batch_op.drop_index(batch_op.f('ix_cases_owner_id'))
        batch_op.drop_index(batch_op.f('ix_cases_opened_at'))

    op.drop_table('cases')
    op.drop_table('case_reference_counters')
