"""lookup indexes: ballots and comments by citizen, a proposal's comment threads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_ballot_citizen', 'ballot', ['citizen_id'])
    op.create_index(
        'ix_comment_thread', 'comment', ['proposal_id', 'parent_id', 'moderation_state', 'created_at']
    )
    op.create_index('ix_comment_citizen', 'comment', ['citizen_id'])


def downgrade() -> None:
    op.drop_index('ix_comment_citizen', table_name='comment')
    op.drop_index('ix_comment_thread', table_name='comment')
    op.drop_index('ix_ballot_citizen', table_name='ballot')
