"""Application packages registered into a workspace: `POST /workspaces/{id}/register`
with `{"type": "application-package", "url"}` reads the package (ogcapppkg JSON or CWL)
under the egress rules and deploys it as a private process owned by `workspace:<id>`,
which the workspace's members see in `/processes`, run and deregister
(`DELETE /workspaces/{id}/processes/{pid}`); to anyone else it does not exist.

Workspace processes live in their workspace's namespace: the package `echo` registered
into workspace `apps` is the process `apps:echo` (`:` is in no package id and in no
workspace id), so an id taken elsewhere, even by a process the caller may not see, never
collides (and so is never revealed by a refusal); only a process of the same workspace,
which its members see, answers 409."""

from __future__ import annotations

import requests

from .. import egress
from ..egress import policy_from_settings
from ..processes.deployment import Deployment, summary
from ..processes.packages import CWL_TYPES, OGCAPPPKG, Package
from ..processes.parsing import SUPPORTED
from ..workspaces import WorkspaceError, WorkspaceNotFound, WorkspaceService

MAX_PACKAGE_BYTES = 4 * 1024 * 1024


def owner_of(workspace_id: str) -> str:
    return f'workspace:{workspace_id}'


def process_id_in(workspace_id: str, process_id: str) -> str:
    """The id of a workspace's process: `<workspace id>:<package's process id>`."""
    return f'{workspace_id}:{process_id}'


def in_namespace(package: Package, workspace_id: str) -> Package:
    """The package as a process of the workspace (its id qualified)."""
    process = dict(package.process, id=process_id_in(workspace_id, package.id))
    return Package(process=process, units=package.units, media_type=package.media_type,
                   raw=package.raw)


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
        package = in_namespace(deployment.parse(body, media_type), workspace.id)
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
        """Undeploy a process of the workspace, named by its id or its package's (404
        if it is not one of its)."""
        workspace = self.service.get(user, workspace_id)
        deployment = self.deployment
        owned = deployment.processes_of(owner_of(workspace.id))
        if process_id not in owned:  # the package's id: qualified with the workspace
            process_id = process_id_in(workspace.id, process_id)
        if process_id not in owned:
            raise WorkspaceNotFound(f'no process {process_id!r} in workspace '
                                    f'{workspace_id!r}')
        deployment.undeploy(process_id, user)

    def undeploy_all(self, workspace_id: str) -> int:
        """Undeploy every process of a workspace that its owner or an admin has just
        deleted; how many."""
        return self.deployment.undeploy_all_of(owner_of(workspace_id))

