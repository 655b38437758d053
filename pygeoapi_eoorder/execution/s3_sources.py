"""Stage-in of `s3://` hrefs from the buckets the deployer names
(`execution.stage_in.s3_sources`: e.g. a data provider's object store), read with the
server's credentials for them (never handed to a container or a client). A bucket no
source names is not read."""

from __future__ import annotations

import os
from typing import BinaryIO
from urllib.parse import unquote, urlparse


def credential(options: dict, name: str) -> str | None:
    """A credential from S3 options, or from the environment variable they name."""
    variable = options.get(f'{name}_env')
    return os.environ.get(variable) if variable else options.get(name)


def s3_client(options: dict):
    """A boto3 S3 client of options (`endpoint_url`, `region`, `access_key_id[_env]`,
    `secret_access_key[_env]`, `addressing_style`)."""
    import boto3
    from botocore.config import Config
    return boto3.client(
        's3', endpoint_url=options.get('endpoint_url'), region_name=options.get('region'),
        aws_access_key_id=credential(options, 'access_key_id'),
        aws_secret_access_key=credential(options, 'secret_access_key'),
        config=Config(s3={'addressing_style': options.get('addressing_style', 'path')},
                      retries={'max_attempts': 3}))


class S3Sources:
    """The configured S3 sources, by bucket; a client per source, made at its first read."""

    def __init__(self, sources: list[dict]):
        self.by_bucket = {bucket: index for index, source in enumerate(sources)
                          for bucket in source['buckets']}
        self.sources = sources
        self.clients: dict[int, object] = {}

    @classmethod
    def from_settings(cls, settings) -> 'S3Sources | None':
        sources = settings.block['execution']['stage_in'].get('s3_sources') or []
        return cls(sources) if sources else None

    def serves(self, href: str) -> bool:
        return urlparse(href).netloc in self.by_bucket

    def open(self, href: str) -> BinaryIO:
        """The object's body, streamed; FileNotFoundError if there is none (or its bucket
        is no source's)."""
        from botocore.exceptions import ClientError
        parsed = urlparse(href)
        key = unquote(parsed.path).lstrip('/')
        if parsed.netloc not in self.by_bucket or not key:
            raise FileNotFoundError(href)
        try:
            answer = self._client(self.by_bucket[parsed.netloc]).get_object(
                Bucket=parsed.netloc, Key=key)
        except ClientError as err:
            code = err.response.get('Error', {}).get('Code')
            if code in ('NoSuchKey', 'NoSuchBucket', '404', 'AccessDenied', '403'):
                raise FileNotFoundError(href) from None
            raise OSError(f'object store: {code or type(err).__name__}') from None
        return answer['Body']

    def _client(self, index: int):
        if index not in self.clients:
            self.clients[index] = s3_client(self.sources[index])
        return self.clients[index]
