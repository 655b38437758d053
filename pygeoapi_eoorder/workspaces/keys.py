"""The keys clients name workspace files by, checked before any storage is touched.

A key is refused (UnsafePathError, answered 400), never normalised into another key: at
most `MAX_KEY_BYTES` UTF-8 bytes in all (S3's limit on a whole object key), each
'/'-separated segment one harmless name of at most 255 bytes (`execution.paths.safe_name`),
and no empty, `.` or `..` segment (so no leading, trailing or doubled '/'). The S3
backend also refuses a key that its bucket prefix would take past S3's limit.
"""

from __future__ import annotations

from ..execution.paths import UnsafePathError, safe_name

MAX_KEY_BYTES = 1024


def client_key(key: object) -> str:
    """`key` if a client may name a file by it, else UnsafePathError saying why."""
    if not isinstance(key, str) or not key:
        raise UnsafePathError('an object key is required')
    if len(key.encode('utf-8', 'surrogatepass')) > MAX_KEY_BYTES:
        raise UnsafePathError(f'key: longer than {MAX_KEY_BYTES} bytes (UTF-8)')
    for segment in key.split('/'):
        if segment in ('', '.', '..'):
            raise UnsafePathError(f'key {key!r}: an empty, "." or ".." segment (a leading, '
                                  'trailing or doubled "/") is not allowed')
        safe_name(segment, 'key segment')
    return key
