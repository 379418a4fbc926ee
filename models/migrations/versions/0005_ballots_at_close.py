"""consultation.ballots_at_close: the ballot total recorded when voting closes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('consultation') as batch:
        batch.add_column(sa.Column('ballots_at_close', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consultation') as batch:
        batch.drop_column('ballots_at_close')
