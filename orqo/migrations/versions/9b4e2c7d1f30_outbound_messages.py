"""outbound messages: agents reply through the platform a message came from

``messages`` gets ``direction`` (inbound for every existing row) and ``reply_to`` (the
platform id of the message a message answers), and a NULL ``delivery_id`` for messages orqo
sends; ``sends`` is their send queue; a waitbox can be bound to the outbound message whose
answer it awaits (``question_id``) and is matched by ``reply_key`` once that is sent.

Revision ID: 9b4e2c7d1f30
Revises: 5d8e3f7a2c61
Create Date: 2026-11-29 22:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9b4e2c7d1f30'
down_revision = '5d8e3f7a2c61'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
# SQLite rebuilds a table to change a column; the rebuilt table keeps AUTOINCREMENT.
KEEP_IDS = {'sqlite_autoincrement': True}


def upgrade():
    with op.batch_alter_table('messages', table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column('direction', sa.String(length=8),
                                      server_default='inbound', nullable=False))
        batch_op.add_column(sa.Column('reply_to', sa.String(length=512), nullable=True))
        batch_op.alter_column('delivery_id', existing_type=BIG_ID, nullable=True)

    with op.batch_alter_table('waitboxes', table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column('question_id', BIG_ID, nullable=True))
        batch_op.add_column(sa.Column('reply_key', sa.String(length=512), nullable=True))
        batch_op.create_index(batch_op.f('ix_waitboxes_question_id'), ['question_id'],
                              unique=False)
        batch_op.create_foreign_key('fk_waitboxes_question_id_messages', 'messages',
                                    ['question_id'], ['id'], ondelete='SET NULL')

    op.create_table('sends',
    sa.Column('message_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('app_id', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=512), nullable=False),
    sa.Column('pace_key', sa.String(length=512), nullable=False),
    sa.Column('in_reply_to', BIG_ID, nullable=True),
    sa.Column('waitbox_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pace_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['in_reply_to'], ['messages.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['waitbox_id'], ['waitboxes.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('message_id')
    )
    with op.batch_alter_table('sends') as batch_op:
        batch_op.create_index('ix_sends_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_sends_chat', ['app_id', 'pace_key', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_sends_in_reply_to'), ['in_reply_to'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('sends') as batch_op:
        batch_op.drop_index(batch_op.f('ix_sends_in_reply_to'))
        batch_op.drop_index('ix_sends_chat')
        batch_op.drop_index('ix_sends_due')
    op.drop_table('sends')
    with op.batch_alter_table('waitboxes', table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint('fk_waitboxes_question_id_messages', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_waitboxes_question_id'))
        batch_op.drop_column('reply_key')
        batch_op.drop_column('question_id')
    op.execute("DELETE FROM messages WHERE delivery_id IS NULL")
    with op.batch_alter_table('messages', table_kwargs=KEEP_IDS) as batch_op:
        batch_op.alter_column('delivery_id', existing_type=BIG_ID, nullable=False)
        batch_op.drop_column('reply_to')
        batch_op.drop_column('direction')
