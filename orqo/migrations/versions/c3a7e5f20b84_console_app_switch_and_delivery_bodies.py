"""the console: an App can be turned off, the ledger keeps what a delivery carried, and
each send attempt is logged

``apps`` gets ``enabled`` (true for every existing App): a disabled App keeps its settings and
its ledger, and its deliveries are refused until it is enabled again. ``deliveries`` gets the
request's ``headers`` (secrets redacted), its ``body`` (up to ``LEDGER_BODY_BYTES``) and the
body's full size in ``body_bytes``, for the console's and the API's view of one delivery.
Existing deliveries keep NULLs: they were received before orqo kept bodies. ``send_attempts``
logs each attempt at sending an outbound message (what it became, the platform's reason, how
long it took), as ``push_attempts`` does for pushes.

Revision ID: c3a7e5f20b84
Revises: 9b4e2c7d1f30
Create Date: 2026-11-30 01:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a7e5f20b84'
down_revision = '9b4e2c7d1f30'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
KEEP_IDS = {'sqlite_autoincrement': True}


def upgrade():
    with op.batch_alter_table('apps') as batch_op:
        batch_op.add_column(sa.Column('enabled', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
    with op.batch_alter_table('deliveries', table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column('headers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('body', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('body_bytes', sa.Integer(), nullable=True))
    op.create_table('send_attempts',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('message_id', BIG_ID, nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.String(length=8), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['sends.message_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    **KEEP_IDS
    )
    with op.batch_alter_table('send_attempts') as batch_op:
        batch_op.create_index(batch_op.f('ix_send_attempts_message_id'), ['message_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('send_attempts') as batch_op:
        batch_op.drop_index(batch_op.f('ix_send_attempts_message_id'))
    op.drop_table('send_attempts')
    with op.batch_alter_table('deliveries', table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column('body_bytes')
        batch_op.drop_column('body')
        batch_op.drop_column('headers')
    with op.batch_alter_table('apps') as batch_op:
        batch_op.drop_column('enabled')
