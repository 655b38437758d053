"""Who may see which catalogue records: private records (a job's registered results, the
records of a workspace) are served only to their owner and admins, and those owned by
`workspace:<id>` to the members of that workspace too; to anyone else they do not exist
(absent from items, searches and counts, 404 by id)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_

from ..store.record_tables import Record

PRIVATE, PUBLIC = 'private', 'public'


@dataclass(frozen=True)
class Viewer:
    """Whose records a reader sees besides the public ones (`sees_all`: every record)."""

    name: str | None = None
    sees_all: bool = False
    workspaces: frozenset[str] = frozenset()  # ids of the workspaces it is a member of

    def owners(self) -> list[str]:
        """The owners whose private records this viewer sees."""
        mine = [self.name] if self.name else []
        return mine + sorted(f'workspace:{w}' for w in self.workspaces)


INTERNAL = Viewer(sees_all=True)  # the server's own reads outside requests and jobs (CLI)
PUBLIC_ONLY = Viewer()


@dataclass(frozen=True)
class Ownership:
    """Who owns the records a writer stores, and who may see them (None: public)."""

    owner: str | None = None
    visibility: str | None = None

    def may_replace(self, owner: str | None) -> bool:
        """May this writer replace a stored record owned by `owner`? Only its own: a
        job never replaces curated records nor another user's, nor they its."""
        return owner == self.owner


CURATED = Ownership()  # records of editors and harvests: public, owned by nobody


def current_viewer() -> Viewer:
    """The reader of the current request, or the owner of the job being run; the server's
    own code outside both (CLI, start-up) sees every record."""
    from ..auth import acting_auth, current_user
    user = current_user()
    auth = acting_auth()
    if user is None:
        return PUBLIC_ONLY if auth is not None else INTERNAL
    if auth is None or auth.is_admin(user):
        return INTERNAL
    return Viewer(name=user.name, workspaces=auth.workspaces_of(user))


def condition(viewer: Viewer):
    """SQL condition on `Record` of the records `viewer` may see (None: all of them)."""
    if viewer.sees_all:
        return None
    visible = [Record.visibility.is_(None), Record.visibility != PRIVATE]
    if viewer.owners():
        visible.append(Record.owner.in_(viewer.owners()))
    return or_(*visible)
