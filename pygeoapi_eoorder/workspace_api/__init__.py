"""Workspace API adapter (`<prefix>/workspaces`): JSON + HTML over `workspaces`."""

from .routes import install, openapi_paths

__all__ = ['install', 'openapi_paths']
