"""Stage-in of `s3://` hrefs of the job owner's own workspaces, read with the workspace
storage's credentials (the server's; never handed to the container or the client). Any
other s3:// href, including one of a workspace the owner is not a member of, answers as
an object that does not exist."""

from __future__ import annotations

from typing import BinaryIO, Callable
from urllib.parse import unquote, urlparse

from ..auth import job_user
from ..execution.paths import UnsafePathError
from ..workspaces import StorageError
from .workspace_stage_out import workspace_service


def s3_opener(ctx) -> Callable[[str], BinaryIO] | None:
    """open(href) of the s3:// objects of the job owner's workspaces (None: no S3). The
    workspace service is made when the first s3:// href is read (a job that reads none
    makes none)."""
    block = ctx.settings.block.get('workspaces') or {}
    if not block.get('enabled', True) or (block.get('storage') or {}).get('backend') != 's3' \
            or not ctx.job.get('owner'):
        return None
    user, auth = job_user(ctx.job), getattr(ctx.manager, 'auth', None)
    made = []

    def open_href(href: str) -> BinaryIO:
        if not made:
            made.append(workspace_service(ctx).storage)
        storage = made[0]
        parsed = urlparse(href)
        key = unquote(parsed.path).lstrip('/')
        if parsed.netloc != storage.bucket or not key.startswith(storage.prefix):
            raise FileNotFoundError(href)
        workspace, _, name = key[len(storage.prefix):].partition('/')
        mine = auth is not None and (auth.is_admin(user)
                                     or workspace in auth.workspaces_of(user))
        if not name or not mine:
            raise FileNotFoundError(href)  # another's workspace: as if absent
        try:
            return storage.open(workspace, name)
        except UnsafePathError:
            raise FileNotFoundError(href) from None
        except StorageError as err:
            raise OSError(str(err)) from None
    return open_href
