"""Stage-in of `s3://` hrefs of the job owner's own workspaces, read with the workspace
storage's credentials (the server's; never handed to the container or the client), and of
this server's workspace file URLs, read from the storage. Any other s3:// href, and any
file of a workspace the owner is not a member of, answers as an object that does not
exist."""

from __future__ import annotations

from typing import BinaryIO, Callable
from urllib.parse import unquote, urlparse, urlsplit

from ..auth import job_user
from ..execution.paths import UnsafePathError
from ..execution.s3_sources import S3Sources
from ..execution.staging import joined
from ..workspaces import StorageError
from .workspace_stage_out import workspace_service


def s3_opener(ctx) -> Callable[[str], BinaryIO] | None:
    """open(href) of the s3:// objects of the job owner's workspaces, and of the buckets
    of `execution.stage_in.s3_sources` (None: no S3 workspaces). The workspace service is
    made when the first s3:// href is read (a job that reads none makes none)."""
    block = ctx.settings.block.get('workspaces') or {}
    storage_block = block.get('storage') or {}
    if not block.get('enabled', True) or storage_block.get('backend') != 's3' \
            or not ctx.job.get('owner'):
        return None
    bucket = storage_block['s3']['bucket']
    user, auth = job_user(ctx.job), getattr(ctx.manager, 'auth', None)
    sources, made = S3Sources.from_settings(ctx.settings), []

    def open_href(href: str) -> BinaryIO:
        parsed = urlparse(href)
        if parsed.netloc != bucket:  # (no workspace service made for these)
            if sources is not None and sources.serves(href):
                return sources.open(href)
            raise FileNotFoundError(href)
        if not made:
            made.append(workspace_service(ctx).storage)
        storage = made[0]
        key = unquote(parsed.path).lstrip('/')
        if not key.startswith(storage.prefix):
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


class WorkspaceFileURLs:
    """This server's workspace file URLs (`<base>/workspaces/<id>/files/<key>`, under the
    job's base URL or the configured public one; e.g. the assets of results staged out
    into a workspace), read from the storage as the job's owner may read them through the
    workspace API: a workspace or file the owner may not see does not exist."""

    def __init__(self, ctx):
        self.ctx = ctx
        bases = {ctx.base_url, ctx.settings.public_url or ''} - {''}
        self.prefixes = tuple(f'{base.rstrip("/")}/workspaces/' for base in bases)
        self.service = None

    def serves(self, href: str) -> bool:
        return href.startswith(self.prefixes)

    def open(self, href: str) -> BinaryIO:
        from ..workspaces import WorkspaceNotFound
        prefix = next(p for p in self.prefixes if href.startswith(p))
        workspace, _, rest = urlsplit(href[len(prefix):]).path.partition('/')
        files, _, key = rest.partition('/')
        if files != 'files' or not key:
            raise FileNotFoundError(href)
        if self.service is None:
            self.service = workspace_service(self.ctx)
        try:
            return self.service.open(job_user(self.ctx.job), unquote(workspace), unquote(key))
        except (WorkspaceNotFound, UnsafePathError):
            raise FileNotFoundError(href) from None
        except StorageError as err:
            raise OSError(str(err)) from None


def file_urls(ctx) -> WorkspaceFileURLs | None:
    """The reader of this server's workspace file URLs for a job (None: workspaces are
    off, or the job has no owner)."""
    block = ctx.settings.block.get('workspaces') or {}
    if not block.get('enabled', True) or not ctx.job.get('owner'):
        return None
    return WorkspaceFileURLs(ctx)


def read_owner_workspaces(ctx) -> None:
    """Let the job's stage-in read what its owner may of the workspaces: their s3://
    objects (with the configured S3 sources) and this server's file URLs of them."""
    opener = s3_opener(ctx)
    if opener is not None:
        ctx.openers['s3'] = opener
    ctx.own_urls = joined(ctx.own_urls, file_urls(ctx))
