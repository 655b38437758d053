"""Application packages registered into a workspace: `POST /workspaces/{id}/register`
with `{"type": "application-package", "url"}` reads the package (ogcapppkg JSON or CWL)
under the egress rules and deploys it as a private process owned by `workspace:<id>`,
which the workspace's members see in `/processes`, run and deregister
(`DELETE /workspaces/{id}/processes/{pid}`); to anyone else it does not exist."""

from __future__ import annotations

import requests

from .. import egress
from ..egress import policy_from_settings
from ..processes.deployment import Deployment, summary
from ..processes.packages import CWL_TYPES, OGCAPPPKG
from ..processes.parsing import SUPPORTED
from ..workspaces import WorkspaceError, WorkspaceNotFound, WorkspaceService

MAX_PACKAGE_BYTES = 4 * 1024 * 1024


def owner_of(workspace_id: str) -> str:
    return f'workspace:{workspace_id}'


def media_type_of(reply: requests.Response) -> str:
    """The package's media type: the one served if it names a package format, else told
    from the document (a `cwlVersion` is CWL; other JSON is an ogcapppkg)."""
    served = reply.headers.get('Content-Type', '').split(';')[0].strip().lower()
    if served in SUPPORTED:
        return served
    text = reply.content[:MAX_PACKAGE_BYTES].decode('utf-8', 'replace')
    if 'cwlVersion' in text:
        return CWL_TYPES[2] if not text.lstrip().startswith('{') else CWL_TYPES[1]
    return OGCAPPPKG


def fetch_package(url: object, settings) -> tuple[bytes, str]:
    """The package document at `url` and its media type, read under the egress rules."""
    if not isinstance(url, str) or not url.startswith(('http://', 'https://')):
        raise WorkspaceError('url: an http(s) URL of an application package is required')
    try:
        reply = egress.get(url, policy=policy_from_settings(settings.block.get('egress')),
                           timeout=30)
    except egress.EgressRefused as err:
        raise WorkspaceError(f'url: {url} refused: {err}') from None
    except requests.RequestException as err:
        raise WorkspaceError(f'url: cannot read {url} ({type(err).__name__})') from None
    if reply.status_code != 200:
        raise WorkspaceError(f'url: {url} answered HTTP {reply.status_code}')
    if len(reply.content) > MAX_PACKAGE_BYTES:
        raise WorkspaceError(f'url: {url} holds more than {MAX_PACKAGE_BYTES} bytes')
    return reply.content, media_type_of(reply)


class WorkspacePackages:
    """Deploy, list and undeploy the processes of a workspace, as a member."""

    def __init__(self, service: WorkspaceService, api, settings):
        self.service, self.api, self.settings = service, api, settings

    @property
    def deployment(self) -> Deployment:
        manager = self.api.manager
        return Deployment(manager.catalogue, manager.auth, manager.runners, manager.settings)

    def register(self, user, workspace_id: str, url: object, base_url: str) -> dict:
        """Deploy the package at `url` as a private process of the workspace."""
        workspace = self.service.get(user, workspace_id)  # 404 for non-members
        deployment = self.deployment
        body, media_type = fetch_package(url, self.settings)
        package = deployment.parse(body, media_type)
        warnings = deployment.deploy(package, user, 'private',
                                     owner=owner_of(workspace.id),
                                     location=f'{base_url}/processes/{package.id}')
        process = summary(package.process, base_url)
        return {'process': process, **({'warnings': warnings} if warnings else {})}

    def listing(self, user, workspace_id: str, base_url: str) -> list[dict]:
        workspace = self.service.get(user, workspace_id)
        found = self.deployment.processes_of(owner_of(workspace.id))
        return [summary(definition['processor']['package']['process'], base_url)
                for definition in found.values()]

    def deregister(self, user, workspace_id: str, process_id: str) -> None:
        """Undeploy a process of the workspace (404 if it is not one of its)."""
        workspace = self.service.get(user, workspace_id)
        deployment = self.deployment
        if process_id not in deployment.processes_of(owner_of(workspace.id)):
            raise WorkspaceNotFound(f'no process {process_id!r} in workspace '
                                    f'{workspace_id!r}')
        deployment.undeploy(process_id, user)

    def undeploy_all(self, workspace_id: str) -> int:
        """Undeploy every process of a workspace that its owner or an admin has just
        deleted; how many."""
        deployment = self.deployment
        found = deployment.processes_of(owner_of(workspace_id))
        for process_id in found:
            deployment.registry.remove(process_id)
        return len(found)

