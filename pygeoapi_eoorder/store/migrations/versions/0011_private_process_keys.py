"""Users' private processes kept per owner: the row of such a process is keyed
`<owner>/<process id>` (ids hold no `/`), so that two users may each own a private
process of one id and neither learns of the other's. Public processes and workspace
processes (owner `workspace:<id>`, ids `<workspace>:<id>`) keep their id as key.
Idempotent: only rows still keyed by the bare id are moved.

Revision ID: 0011
Revises: 0010
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TABLE = sa.table('eoorder_process', sa.column('id', sa.String), sa.column('owner', sa.String),
                 sa.column('definition', sa.Text))


def _private_of_users(rows) -> list[tuple[str, str]]:
    """(id, owner) of the rows of users' private processes."""
    found = []
    for key, owner, definition in rows:
        if isinstance(definition, str):
            definition = json.loads(definition)
        if (definition or {}).get('visibility') == 'private' and \
                not str(owner or '').startswith('workspace:'):
            found.append((key, owner or ''))
    return found


def _rekey(old: str, new: str) -> None:
    op.get_bind().execute(sa.update(TABLE).where(TABLE.c.id == old).values(id=new))


def upgrade() -> None:
    rows = op.get_bind().execute(sa.select(TABLE.c.id, TABLE.c.owner, TABLE.c.definition))
    for key, owner in _private_of_users(rows.all()):
        if '/' not in key:
            _rekey(key, f'{owner}/{key}')


def downgrade() -> None:
    """Back to bare ids where the id is free (another user's copy stays keyed)."""
    rows = op.get_bind().execute(sa.select(TABLE.c.id, TABLE.c.owner, TABLE.c.definition))
    rows = rows.all()
    taken = {key for key, _, _ in rows}
    for key, _ in _private_of_users(rows):
        bare = key.rpartition('/')[2]
        if '/' in key and bare not in taken:
            _rekey(key, bare)
            taken.add(bare)
