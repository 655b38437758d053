"""Workspaces (EOEPCA resource management): a storage area per user or group, members,
a storage quota; no web framework here (the HTTP adapter is `workspace_api`)."""

from .service import (Conflict, Forbidden, QuotaExceeded, Workspace, WorkspaceError,
                      WorkspaceNotFound, WorkspaceService)
from .storage import DirectoryStorage, KeyConflict, S3Storage, StorageError, make_storage

__all__ = ['Conflict', 'DirectoryStorage', 'Forbidden', 'KeyConflict', 'QuotaExceeded', 'S3Storage',
           'StorageError', 'Workspace', 'WorkspaceError', 'WorkspaceNotFound',
           'WorkspaceService', 'make_storage']
