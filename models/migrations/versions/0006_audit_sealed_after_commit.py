"""audit events are sealed into the chain after they commit: seq and digests empty until then

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_event') as batch:
        batch.alter_column('seq', existing_type=sa.Integer(), nullable=True)
        batch.alter_column('prev_digest', existing_type=sa.String(length=64), nullable=True)
        batch.alter_column('digest', existing_type=sa.String(length=64), nullable=True)
    op.create_index('ix_audit_event_unsealed', 'audit_event', ['id'], unique=False,
                    postgresql_where=sa.text('seq IS NULL'), sqlite_where=sa.text('seq IS NULL'))


def downgrade() -> None:
    # events not yet sealed cannot keep a NULL in a NOT NULL column: seal them first
    # (``civicflow audit verify`` does)
    op.drop_index('ix_audit_event_unsealed', table_name='audit_event')
    with op.batch_alter_table('audit_event') as batch:
        batch.alter_column('digest', existing_type=sa.String(length=64), nullable=False)
        batch.alter_column('prev_digest', existing_type=sa.String(length=64), nullable=False)
        batch.alter_column('seq', existing_type=sa.Integer(), nullable=False)
