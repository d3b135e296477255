"""ids are never reused on SQLite; refused deliveries are counted in ``rejections``;
the rows that refer to a message are indexed by it (retention deletes messages)

SQLite gives a new row the largest id + 1 unless its table says AUTOINCREMENT, so the ids of
deleted rows came back (a delivery #17 twice, two pushes ``push_4``). Every table whose ids
leave orqo is rebuilt with AUTOINCREMENT (its rows, ids and indexes kept; SQLite rebuilds a
table by copying it, so this takes as long as copying the database). PostgreSQL's sequences
never hand out an id twice: nothing to do there.

Revision ID: 5d8e3f7a2c61
Revises: 7c1d2a9e4b10
Create Date: 2026-11-29 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d8e3f7a2c61'
down_revision = '7c1d2a9e4b10'
branch_labels = None
depends_on = None

#: The tables with an integer id of their own, parents before children.
ID_TABLES = (
    'contacts', 'contact_channels', 'api_tokens', 'workflows', 'webhook_triggers',
    'app_event_triggers', 'deliveries', 'messages', 'workflow_runs', 'waitboxes',
    'conversations', 'conversation_sessions', 'conversation_entries', 'push_deliveries',
    'push_attempts',
)

#: The tables whose rows point at a message: without an index, deleting a message scans them.
MESSAGE_REFERENCES = ('push_deliveries', 'conversation_entries', 'waitboxes')


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table in ID_TABLES:
        with op.batch_alter_table(table, recreate='always',
                                  table_kwargs={'sqlite_autoincrement': autoincrement}):
            pass


def upgrade():
    op.create_table('rejections',
    sa.Column('app_id', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
              autoincrement=False, nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('count', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=False),
    sa.Column('last_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_id', 'window_start', 'outcome', 'source')
    )
    _rebuild(autoincrement=True)
    for table in MESSAGE_REFERENCES:
        op.create_index(f'ix_{table}_message_id', table, ['message_id'], unique=False)


def downgrade():
    for table in MESSAGE_REFERENCES:
        op.drop_index(f'ix_{table}_message_id', table_name=table)
    _rebuild(autoincrement=False)
    op.drop_table('rejections')
