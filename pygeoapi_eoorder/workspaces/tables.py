"""Tables of workspaces (created by store migration 0006; defined in the store, where the
auth rules read membership too)."""

from ..store.workspace_tables import BOOKING, MEMBER, METADATA, WORKSPACE

__all__ = ['BOOKING', 'MEMBER', 'METADATA', 'WORKSPACE']
