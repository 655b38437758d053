"""This server's openEO batch job results as `load_stac` reads them: the URL of a job's
results (`<base>/openeo/1.2/jobs/<id>/results`, under the job's base URL or the
configured public one) stands for the STAC item the job wrote beside its files
(`job.write_catalog`), read from its results as the job's owner may read them through
the API. Another user's job, one that is not (or no longer) successful and one that does
not exist answer alike."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote, urlsplit

from ..auth import job_user
from ..execution.paths import UnsafePathError, confine
from .errors import GraphError

RESULTS = re.compile(r'/openeo/1\.2/jobs/([^/]+)/results/?')


class OwnJobResults:
    """`reader(url)`: the items of this server's job results at `url`, their assets at
    local paths (None: not such a URL); `job_type`: the openEO batch jobs' type, `folder`:
    where in its results such a job wrote its files and item."""

    def __init__(self, ctx, job_type: str, folder: str):
        self.ctx, self.job_type, self.folder = ctx, job_type, folder
        bases = {ctx.base_url, ctx.settings.public_url or ''} - {''}
        self.bases = tuple(base.rstrip('/') for base in bases)

    def __call__(self, url: str) -> list[dict] | None:
        base = next((b for b in self.bases if url.startswith(f'{b}/')), None)
        found = base and RESULTS.fullmatch(urlsplit(url[len(base):]).path)
        return self.items(unquote(found.group(1)), url) if found else None

    def items(self, job_id: str, url: str) -> list[dict]:
        ctx, absent = self.ctx, GraphError(f'load_stac: {url} does not exist',
                                           'ProcessParameterInvalid')
        job = ctx.repo.get(job_id)
        if job is None or job['type'] != self.job_type or job['status'] != 'successful' \
                or job['files_removed'] \
                or not ctx.manager.auth.owns(job_user(ctx.job), job['owner']):
            raise absent
        try:
            folder = ctx.manager.results_dir(job_id) / self.folder
            item = json.loads(confine(folder, f'{job_id}.json').read_text())
            item['assets'] = {name: {**asset, 'href': str(confine(folder, name))}
                              for name, asset in item['assets'].items()}
        except (OSError, ValueError, KeyError, TypeError, UnsafePathError):
            raise absent from None
        return [item]
