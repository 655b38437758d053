"""Where a workspace's files live: a directory under the data directory (embedded
default) or a prefix of one bucket of an S3-compatible object store (MinIO, Ceph, AWS...).

One bucket with a prefix per workspace rather than a bucket per workspace: the server
needs one set of credentials with no right to create buckets, and workspace ids are not
bound by bucket-naming rules. boto3 rather than obstore: its S3 client is the reference
that every S3-compatible server is tested against, and it needs no native wheel.
Credentials stay in this module: `location()` describes the storage without them.

An S3 multipart upload that does not complete (an error, a crash) leaves parts that use
the bucket without showing in any listing: a failed `put` aborts those of its key, and
`abort_uploads` aborts those under a prefix (the sweep of failed jobs' and cancelled
deliveries' areas, a workspace's deletion, an admin's recount).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

from ..execution.paths import UnsafePathError, confine, relative_parts, safe_name


class StorageError(Exception):
    """The storage backend failed (unreachable, refused): the message names the cause."""


class KeyConflict(StorageError):
    """A key that clashes with a stored one (a file where a folder is, or the reverse)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


def check_key(key: str) -> str:
    """A '/'-separated object key with harmless components, else UnsafePathError."""
    parts = relative_parts(key)
    if not parts:
        raise UnsafePathError('an object key is required')
    return '/'.join(parts)


MAX_S3_KEY = 1024  # S3's limit on an object key, bucket prefix included
UPLOADS = '.uploads'  # files being written (no workspace id starts with '.')


class DirectoryStorage:
    """Each workspace is a directory `<root>/<workspace id>`."""

    kind = 'directory'

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / UPLOADS).mkdir(parents=True, exist_ok=True)
        self.remove_abandoned()

    def remove_abandoned(self) -> int:
        """Remove the partial uploads of processes that died (a live writer holds a lock
        on its file); how many."""
        removed = 0
        for partial in (self.root / UPLOADS).iterdir():
            try:
                if time.time() - partial.stat().st_mtime < 10:  # maybe not locked yet
                    continue
                with open(partial, 'rb') as probe:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    partial.unlink()
                    removed += 1
            except OSError:  # being written, or gone meanwhile
                continue
        return removed

    def _dir(self, workspace: str) -> Path:
        return confine(self.root, safe_name(workspace, 'workspace id'))

    def location(self, workspace: str) -> dict:
        """Where the files are, relative to the server's data directory (no host path)."""
        return {'type': self.kind, 'path': f'{self.root.name}/{safe_name(workspace)}'}

    def create(self, workspace: str) -> None:
        self._dir(workspace).mkdir(parents=True, exist_ok=True)

    def _path(self, workspace: str, key: str) -> Path:
        return confine(self._dir(workspace), *relative_parts(check_key(key)))

    def put(self, workspace: str, key: str, stream: BinaryIO) -> int:
        target = self._path(workspace, key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                raise IsADirectoryError(key)
        except OSError:
            raise KeyConflict(f'{key!r} clashes with a stored file or folder') from None
        partial = self.root / UPLOADS / uuid.uuid4().hex  # outside every workspace
        try:
            with open(partial, 'wb') as out:
                fcntl.flock(out, fcntl.LOCK_EX)  # released when this process dies
                shutil.copyfileobj(stream, out)
            target.parent.mkdir(parents=True, exist_ok=True)  # removed meanwhile: the
            os.replace(partial, target)  # caller sees its workspace gone and cleans up
        finally:
            partial.unlink(missing_ok=True)
        return target.stat().st_size

    def open(self, workspace: str, key: str) -> BinaryIO:
        path = self._path(workspace, key)
        if not path.is_file() or path.is_symlink():
            raise FileNotFoundError(key)
        return open(path, 'rb')

    def size(self, workspace: str, key: str) -> int | None:
        """The size of the file at `key` (None: there is none)."""
        path = self._path(workspace, key)
        return path.stat().st_size if path.is_file() and not path.is_symlink() else None

    def objects(self, workspace: str) -> Iterator[StoredObject]:
        base = self._dir(workspace)
        if not base.is_dir():
            return
        for path in sorted(base.rglob('*')):
            if path.is_file() and not path.is_symlink():
                yield StoredObject(path.relative_to(base).as_posix(), path.stat().st_size)

    def delete(self, workspace: str, key: str) -> bool:
        path = self._path(workspace, key)
        if not path.is_file():
            return False
        path.unlink()
        return True

    def destroy(self, workspace: str) -> None:
        shutil.rmtree(self._dir(workspace), ignore_errors=True)

    def open_uploads(self, workspace: str, prefix: str = '') -> list[str]:
        """Uploads under way keep no part in a workspace here (see `remove_abandoned`)."""
        return []

    def abort_abandoned(self, workspace: str) -> int:
        return self.remove_abandoned()

    def abort_uploads(self, workspace: str, prefix: str = '',
                      older_than: float | None = None) -> int:
        return 0


class S3Storage:
    """Each workspace is the prefix `<prefix><workspace id>/` of one bucket."""

    kind = 's3'

    def __init__(self, options: dict):
        from ..execution.s3_sources import s3_client
        self.bucket, self.prefix = options['bucket'], options['prefix']
        self.endpoint = options.get('endpoint_url')
        self.region = options.get('region')
        self.client = s3_client(options)
        self.create_bucket = options['create_bucket']
        self.abandoned_seconds = options.get('abandoned_upload_seconds', 86400)

    def _prefix(self, workspace: str) -> str:
        return f'{self.prefix}{safe_name(workspace, "workspace id")}/'

    def _name(self, workspace: str, key: str) -> str:
        """The bucket key of `key`; UnsafePathError past S3's limit on a whole key."""
        prefix = self._prefix(workspace)
        name = prefix + check_key(key)
        if len(name.encode('utf-8', 'surrogatepass')) > MAX_S3_KEY:
            room = MAX_S3_KEY - len(prefix.encode())
            raise UnsafePathError(f'key: longer than the {room} bytes (UTF-8) this storage '
                                  f'leaves after its bucket prefix {prefix!r}')
        return name

    def location(self, workspace: str) -> dict:
        where = {'type': self.kind, 'bucket': self.bucket, 'prefix': self._prefix(workspace),
                 'href': f's3://{self.bucket}/{self._prefix(workspace)}'}
        if self.endpoint:
            where['endpoint'] = self.endpoint
        return where

    def create(self, workspace: str) -> None:
        self._prefix(workspace)
        if self.create_bucket:
            self._call(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put(self, workspace: str, key: str, stream: BinaryIO) -> int:
        name = self._name(workspace, key)
        try:
            self._call(self.client.upload_fileobj, stream, self.bucket, name)
        except BaseException:  # its parts must not stay hidden in the bucket
            self._abort(name, exact=True)
            raise
        return self._call(self.client.head_object, Bucket=self.bucket,
                          Key=name)['ContentLength']

    def open(self, workspace: str, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._name(workspace, key))
        except ClientError as err:
            if err.response.get('Error', {}).get('Code') in ('NoSuchKey', '404'):
                raise FileNotFoundError(key) from None
            raise StorageError(_reason(err)) from None
        return answer['Body']

    def size(self, workspace: str, key: str) -> int | None:
        """The size of the object at `key` (None: there is none)."""
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return self.client.head_object(Bucket=self.bucket,
                                           Key=self._name(workspace, key))['ContentLength']
        except ClientError as err:
            if err.response.get('Error', {}).get('Code') in ('404', 'NoSuchKey', 'NotFound'):
                return None
            raise StorageError(_reason(err)) from None
        except BotoCoreError as err:
            raise StorageError(_reason(err)) from None

    def objects(self, workspace: str) -> Iterator[StoredObject]:
        prefix = self._prefix(workspace)
        pages = self.client.get_paginator('list_objects_v2').paginate(
            Bucket=self.bucket, Prefix=prefix)
        for page in self._call(list, pages):
            for entry in page.get('Contents', ()):
                yield StoredObject(entry['Key'][len(prefix):], entry['Size'])

    def delete(self, workspace: str, key: str) -> bool:
        from botocore.exceptions import ClientError
        name = self._name(workspace, key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as err:
            if err.response.get('Error', {}).get('Code') in ('404', 'NoSuchKey', 'NotFound'):
                return False
            raise StorageError(_reason(err)) from None
        self._call(self.client.delete_object, Bucket=self.bucket, Key=name)
        return True

    def destroy(self, workspace: str) -> None:
        self.abort_uploads(workspace)
        for stored in list(self.objects(workspace)):
            self._call(self.client.delete_object, Bucket=self.bucket,
                       Key=self._prefix(workspace) + stored.key)

    def _uploads(self, name: str) -> list[dict]:
        """The multipart uploads open under the bucket key prefix `name`."""
        from botocore.exceptions import ClientError
        pages = self.client.get_paginator('list_multipart_uploads').paginate(
            Bucket=self.bucket, Prefix=name)
        try:
            listed = list(pages)
        except ClientError as err:  # rclone's answer for a bucket that never had one
            if err.response.get('Error', {}).get('Code') == 'NoSuchUpload':
                return []
            raise StorageError(_reason(err)) from None
        except Exception as err:
            raise StorageError(_reason(err)) from None
        return [u for page in listed for u in page.get('Uploads', ())]

    def open_uploads(self, workspace: str, prefix: str = '') -> list[str]:
        """Keys (in the workspace) of the multipart uploads open under `prefix`."""
        base = self._prefix(workspace)
        return sorted({u['Key'][len(base):] for u in self._uploads(base + prefix)})

    def abort_uploads(self, workspace: str, prefix: str = '',
                      older_than: float | None = None) -> int:
        """Abort the multipart uploads open under `prefix` of the workspace (only those
        started more than `older_than` seconds ago, when given); how many."""
        return self._abort(self._prefix(workspace) + prefix, older_than=older_than)

    def abort_abandoned(self, workspace: str) -> int:
        """Abort the workspace's uploads open for longer than `abandoned_upload_seconds`."""
        return self.abort_uploads(workspace, older_than=self.abandoned_seconds)

    def _abort(self, name: str, exact: bool = False, older_than: float | None = None) -> int:
        """Abort the uploads under `name` (exact: of that key only); failures of the
        object store are left for the next sweep."""
        from botocore.exceptions import BotoCoreError, ClientError
        limit = datetime.now(timezone.utc) - timedelta(seconds=older_than or 0)
        aborted = 0
        try:
            for upload in self._uploads(name):
                if (exact and upload['Key'] != name) or (
                        older_than is not None and upload['Initiated'] > limit):
                    continue
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload['Key'],
                                                   UploadId=upload['UploadId'])
                aborted += 1
        except (StorageError, BotoCoreError, ClientError):
            pass
        return aborted

    def _call(self, function, *args, **kwargs):
        """Run a boto3 call; its failures become StorageError (never with credentials)."""
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return function(*args, **kwargs)
        except (BotoCoreError, ClientError) as err:
            raise StorageError(_reason(err)) from None


def _reason(err: Exception) -> str:
    code = (getattr(err, 'response', None) or {}).get('Error', {}).get('Code')
    return f'object store: {code}' if code else f'object store: {type(err).__name__}'


def make_storage(block: dict, data_dir: Path):
    """The storage of the `workspaces.storage` config block."""
    if block['backend'] == 's3':
        return S3Storage(block['s3'])
    root = Path(block['directory'])
    return DirectoryStorage(root if root.is_absolute() else data_dir / root)
