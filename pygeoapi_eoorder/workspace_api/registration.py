"""Registration views: `POST /workspaces/{id}/register` harvests a STAC catalog, collection,
API or a bare Item into the workspace's collection, or deploys an application package as
a process of the workspace (`type: application-package`, see `packages`);
`/workspaces/{id}/records[/{rid}]` lists, reads and deregisters (DELETE) its records,
`/workspaces/{id}/processes[/{pid}]` lists and deregisters its processes. Reading the
source goes through the harvest code and the server's egress rules."""

from __future__ import annotations

import json

from flask import Response, request

from ..auth import current_user
from ..catalogue.harvest.sources import HarvestError, detect
from ..catalogue.workspace_collections import collection_of
from ..egress import EgressRefused, policy_from_settings
from ..web.problem import problem
from ..workspaces import WorkspaceError, WorkspaceService
from .packages import WorkspacePackages
from .paging import paging

STAC_KINDS = ('stac-static', 'stac-api', 'stac-item')
TYPES = ('stac', 'application-package')


def stac_fetcher(settings, timeout: float = 30):
    """fetch(url, max_records) -> record batches, read under the egress rules."""
    policy = policy_from_settings(settings.block)

    def fetch(url: str, max_records: int) -> list[list[dict]]:
        try:
            source = detect(url, 'auto', [], 100, timeout, policy)
            if source.kind not in STAC_KINDS:
                raise WorkspaceError(f'url: {url} is a {source.kind} source, not STAC')
            batches, taken = [], 0
            for records, _cursor in source.batches(None):
                records = records[:max_records - taken]
                batches.append(records)
                taken += len(records)
                if taken >= max_records:
                    break
            return batches
        except (HarvestError, EgressRefused) as err:
            raise WorkspaceError(f'url: {err}') from None
    return fetch


class RegistrationViews:
    def __init__(self, service: WorkspaceService, settings, base, packages: WorkspacePackages):
        self.service, self.base, self.packages = service, base, packages
        self.fetch = stac_fetcher(settings)
        self.max_records = settings.block['workspaces']['max_register_records']

    def register(self, workspace_id: str):
        try:
            body = json.loads(request.get_data() or b'null')
        except ValueError:
            raise WorkspaceError('request body: not JSON') from None
        if not isinstance(body, dict):
            raise WorkspaceError('request body: a JSON object {"type", "url"} is required')
        self.service.get(current_user(), workspace_id)  # 404 before looking at the body
        if body.get('type', 'stac') not in TYPES:
            raise WorkspaceError(f'type: one of {", ".join(TYPES)}')
        if body.get('type') == 'application-package':
            return self._register_package(workspace_id, body.get('url'))
        counts = self.service.register(current_user(), workspace_id, body.get('url'),
                                       self.fetch, self.max_records)
        href = f'{self.base()}/{workspace_id}/records'
        return Response(json.dumps({'registered': counts, 'records': href}), 200,
                        {'Location': href}, mimetype='application/json')

    def _register_package(self, workspace_id: str, url):
        answer = self.packages.register(current_user(), workspace_id, url, self.api_base())
        href = answer['process']['links'][0]['href']
        return Response(json.dumps(answer), 201, {'Location': href},
                        mimetype='application/json')

    def api_base(self) -> str:
        return self.base().rsplit('/workspaces', 1)[0]

    def processes(self, workspace_id: str):
        found = self.packages.listing(current_user(), workspace_id, self.api_base())
        return Response(json.dumps({'processes': found, 'links': [
            {'rel': 'self', 'href': f'{self.base()}/{workspace_id}/processes',
             'type': 'application/json'}]}), mimetype='application/json')

    def undeploy(self, workspace_id: str, process_id: str):
        self.packages.deregister(current_user(), workspace_id, process_id)
        return Response(status=204)

    def records(self, workspace_id: str):
        records = self.service.records(current_user(), workspace_id)  # 404 first
        offset, limit = paging(request.args, f'{self.api_base()}/collections/'
                                             f'{collection_of(workspace_id)}/items')
        found, matched = records.listing(offset, limit)
        body = {'type': 'FeatureCollection', 'features': found, 'numberMatched': matched,
                'numberReturned': len(found)}
        return Response(json.dumps(body), mimetype='application/geo+json')

    def record(self, workspace_id: str, record_id: str):
        found = self.service.records(current_user(), workspace_id).get(record_id)
        if found is None:
            return problem(404, 'not-found', f'no record {record_id!r} in {workspace_id!r}')
        return Response(json.dumps(found), mimetype='application/geo+json')

    def deregister(self, workspace_id: str, record_id: str):
        if not self.service.deregister(current_user(), workspace_id, record_id):
            return problem(404, 'not-found', f'no record {record_id!r} in {workspace_id!r}')
        return Response(status=204)
