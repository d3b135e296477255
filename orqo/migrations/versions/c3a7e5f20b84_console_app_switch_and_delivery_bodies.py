"""the console: an App can be turned off, and the ledger keeps what a delivery carried

``apps`` gets ``enabled`` (true for every existing App): a disabled App keeps its settings and
its ledger, and its deliveries are refused until it is enabled again. ``deliveries`` gets the
request's ``headers`` (secrets redacted), its ``body`` (up to ``LEDGER_BODY_BYTES``) and the
body's full size in ``body_bytes``, for the console's and the API's view of one delivery.
Existing deliveries keep NULLs: they were received before orqo kept bodies.

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

KEEP_IDS = {'sqlite_autoincrement': True}


def upgrade():
    with op.batch_alter_table('apps') as batch_op:
        batch_op.add_column(sa.Column('enabled', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
    with op.batch_alter_table('deliveries', table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column('headers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('body', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('body_bytes', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('deliveries', table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column('body_bytes')
        batch_op.drop_column('body')
        batch_op.drop_column('headers')
    with op.batch_alter_table('apps') as batch_op:
        batch_op.drop_column('enabled')
