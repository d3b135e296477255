"""messages carry their own dedupe claim; revision counters for per-worker caches

The dedupe claim was a row of its own (``dedupe_claims``) written beside every routed message.
It is now the ``claimed`` flag of the message itself, made unique per (App, dedupe key) by a
partial index, so routing a message writes one row fewer. Messages that held a claim keep it.

Revision ID: 7c1d2a9e4b10
Revises: e530fe3dd128
Create Date: 2026-11-29 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c1d2a9e4b10'
down_revision = 'e530fe3dd128'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('revisions',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute("UPDATE messages SET claimed = true "
               "WHERE id IN (SELECT message_id FROM dedupe_claims)")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.alter_column('claimed', server_default=None)
        batch_op.drop_index('ix_messages_app_dedupe')
        batch_op.create_index('uq_messages_claim', ['app_id', 'dedupe_key'], unique=True,
                              sqlite_where=sa.text('claimed'), postgresql_where=sa.text('claimed'))
        batch_op.create_index('ix_messages_contact_created', ['contact_id', 'created_at'],
                              unique=False)
    op.drop_table('dedupe_claims')


def downgrade():
    op.create_table('dedupe_claims',
    sa.Column('app_id', sa.String(length=64), nullable=False),
    sa.Column('dedupe_key', sa.String(length=512), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_id', 'dedupe_key')
    )
    op.execute("INSERT INTO dedupe_claims (app_id, dedupe_key, message_id, claimed_at) "
               "SELECT app_id, dedupe_key, id, created_at FROM messages WHERE claimed")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_contact_created')
        batch_op.drop_index('uq_messages_claim')
        batch_op.create_index('ix_messages_app_dedupe', ['app_id', 'dedupe_key'], unique=False)
        batch_op.drop_column('claimed')
    op.drop_table('revisions')
