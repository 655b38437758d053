"""Deploying application packages as processes: the service behind OGC API - Processes
Part 2 (`api/deploy.py`) and the Testbed-13 DeployProcess / UndeployProcess (`builtin.py`).

It validates a package (parsers, CWL sandbox policy), checks its images with the
execution runners, keeps built-in and reserved ids for the deployer, applies ownership,
and persists the process in the registry. Every refusal is a :class:`DeploymentRefused`
with the OGC API problem it answers as; the adapters only translate it.
"""

from __future__ import annotations

import logging

from ..auth import Auth, User
from ..config import Settings
from ..egress import policy_from_settings
from ..execution.runner import ExecutionRunner
from . import deployed, reserved
from .catalogue import ProcessCatalogue
from .cwl import check_package_sandbox
from .packages import Package, PackageError, WorkflowNotFound
from .parsing import UnsupportedPackage, parse_package
from .permissions import Refusal, Refused, forbidden
from .registry import process_id_of, store_key

LOGGER = logging.getLogger(__name__)
VISIBILITIES = ('public', 'private')


class DeploymentRefused(Refused):
    """A deployment request refused: `refusal` holds its status, problem type, detail."""

    def __init__(self, status: int, kind: str, detail: str, headers: dict | None = None):
        super().__init__(Refusal(status, kind, detail))
        self.headers = headers or {}


def summary(process: dict, base_url: str) -> dict:
    """The process summary of Part 1, with Part 2's `mutable`."""
    keys = ('id', 'version', 'title', 'description', 'keywords', 'jobControlOptions',
            'outputTransmission')
    body = {k: process[k] for k in keys if k in process}
    body['mutable'] = True
    url = f"{base_url}/processes/{process['id']}"
    body['links'] = [
        {'href': url, 'rel': 'self', 'type': 'application/json', 'title': 'Process description'},
        {'href': f'{url}/execution', 'rel': 'http://www.opengis.net/def/rel/ogc/1.0/execute',
         'type': 'application/json', 'title': 'Execute'},
        {'href': f'{url}/package', 'rel': 'http://www.opengis.net/def/rel/ogc/1.0/package',
         'title': 'Application package'}]
    return body


class Deployment:
    """Deploy, replace, undeploy and read application packages, as a given user."""

    def __init__(self, catalogue: ProcessCatalogue, auth: Auth,
                 runners: dict[str, ExecutionRunner], settings: Settings):
        self.catalogue = catalogue
        self.registry = catalogue.registry
        self.auth = auth
        self.runners = runners
        self.settings = settings

    # -- checks ---------------------------------------------------------------------------
    def parse(self, body: bytes, media_type: str | None, workflow: str | None = None) -> Package:
        """A checked package from a request body (documents by href under the egress
        policy; CWL under the sandbox policy); refused with the matching problem type."""
        try:
            package = parse_package(body, media_type, workflow, policy=policy_from_settings(
                self.settings.block.get('egress')))
            check_package_sandbox(package, self.settings.block['execution'])
            return package
        except UnsupportedPackage as err:
            raise DeploymentRefused(415, 'unsupported-media-type', str(err)) from None
        except WorkflowNotFound as err:
            raise DeploymentRefused(400, 'workflow-not-found', str(err)) from None
        except PackageError as err:
            raise DeploymentRefused(400, 'invalid-parameter', str(err)) from None

    def image_warnings(self, package: Package) -> list[str]:
        """Images the runners cannot run yet: deployment still succeeds (they may come)."""
        warnings = []
        for kind in dict.fromkeys(unit.kind for unit in package.units):
            images = [u.image for u in package.units if u.kind == kind and u.image]
            runner = self.runners.get(kind)
            if images and runner is not None:
                warnings.extend(runner.missing_images(images))
        return warnings

    def may_deploy(self, user: User | None) -> Refusal | None:
        if self.auth.allowed(user, 'deploy'):
            return None
        return forbidden('you may not deploy, replace or undeploy processes '
                         '(permission deploy)')

    def _require_deployer(self, user: User | None) -> None:
        refused = self.may_deploy(user)
        if refused is not None:
            raise Refused(refused)

    def _check_reserved(self, process_id: str, user: User | None, verb: str) -> None:
        if reserved.is_reserved(self.catalogue, self.settings.block, process_id) and \
                not self.auth.is_admin(user):
            raise DeploymentRefused(
                403, 'immutable-process', f'process id {process_id!r} is reserved by the '
                'server configuration (built in, or run by an order option): only an admin '
                f'may {verb} it')

    def _owned(self, process_id: str, user: User | None, verb: str) -> tuple[str, dict]:
        """(row key, deployed definition) of the process `user` may change, else refused."""
        if process_id in self.catalogue.configured:
            raise DeploymentRefused(403, 'immutable-process',
                                    f'process {process_id!r} is built in and cannot be {verb}')
        found = self.catalogue.resolve(process_id, user)
        if found is None:
            raise DeploymentRefused(404, 'no-such-process',
                                    f'process {process_id!r} does not exist')
        key, definition = found
        if not self.auth.owns(user, definition.get('owner')):
            raise Refused(forbidden(f'process {process_id!r} belongs to another user'))
        self._require_deployer(user)
        return key, definition

    def _definition(self, package: Package, owner: str | None, visibility: str,
                    user: User | None) -> dict:
        """The stored resource; marked as the admin's when an admin deploys it."""
        definition = deployed.resource(package, owner, visibility)
        if self.auth.is_admin(user):
            definition[reserved.ADMIN_OWNED] = True
        return definition

    # -- operations -----------------------------------------------------------------------
    def deploy(self, package: Package, user: User | None, visibility: str = 'public',
               *, location: str | None = None, owner: str | None = None) -> list[str]:
        """Persist a new process; return warnings (missing images). `location`: the URL
        of an existing built-in process of that id, for the refusal's Location header;
        `owner`: whose it is (default: `user`'s; `workspace:<id>` for a workspace's,
        which its members see, run and undeploy). Only a process the caller can see
        makes the id taken (409): a private one is kept per owner."""
        self._require_deployer(user)
        if visibility not in VISIBILITIES:
            raise DeploymentRefused(400, 'invalid-parameter',
                                    "visibility: must be 'public' or 'private'")
        if package.id in self.catalogue.configured:
            raise DeploymentRefused(
                403, 'immutable-process',
                f'process {package.id!r} is built in and cannot be replaced',
                {'Location': location} if location else None)
        if package.id in self.catalogue.visible():
            raise DeploymentRefused(
                409, 'duplicated-process', f'a process {package.id!r} exists already; '
                f'replace it with PUT /processes/{package.id}')
        self._check_reserved(package.id, user, 'deploy')
        warnings = self.image_warnings(package)
        owner = owner or (user.name if user else None)
        if not self.registry.put(store_key(package.id, owner, visibility),
                                 self._definition(package, owner, visibility, user),
                                 package=package.raw, owner=owner,
                                 media_type=package.media_type, only_new=True):
            raise DeploymentRefused(409, 'duplicated-process',
                                    f'a process {package.id!r} exists already')
        LOGGER.info('deployed process %s', package.id)
        return warnings

    def check_replace(self, process_id: str, user: User | None) -> tuple[str, dict]:
        """Refused unless `user` may replace this process; its row key and definition."""
        previous = self._owned(process_id, user, 'replaced')
        self._check_reserved(process_id, user, 'replace')
        return previous

    def replace(self, process_id: str, package: Package, user: User | None) -> None:
        """Replace a deployed process by a new package of the same id."""
        key, previous = self.check_replace(process_id, user)
        if package.id != process_id:
            raise DeploymentRefused(
                400, 'invalid-parameter', f'processDescription.id: {package.id!r} differs '
                f'from the process being replaced ({process_id!r})')
        owner = previous.get('owner')
        self.registry.put(key, self._definition(
            package, owner, previous.get('visibility', 'public'), user),
            package=package.raw, media_type=package.media_type, owner=owner)

    def undeploy(self, process_id: str, user: User | None) -> None:
        key, _ = self._owned(process_id, user, 'undeployed')
        if not self.registry.remove(key):
            raise DeploymentRefused(404, 'no-such-process',
                                    f'process {process_id!r} does not exist')

    def processes_of(self, owner: str) -> dict[str, dict]:
        """The deployed processes owned by `owner` (e.g. `workspace:<id>`), by id."""
        return {process_id_of(key): definition for key, definition in self.registry.all().items()
                if definition.get('owner') == owner}

    def undeploy_all_of(self, owner: str) -> int:
        """Remove every process of `owner` (a deleted workspace's); how many."""
        found = [key for key, definition in self.registry.all().items()
                 if definition.get('owner') == owner]
        for key in found:
            self.registry.remove(key)
        return len(found)

    def package_of(self, process_id: str, user: User | None):
        """The stored package row of a deployed process `user` may see."""
        found = self.catalogue.resolve(process_id, user)
        row = self.registry.get(found[0]) if found is not None else None
        if row is None:
            if process_id in self.catalogue.visible():
                raise DeploymentRefused(404, 'no-such-process', f'process {process_id!r} is '
                                        'built in: it has no application package')
            raise DeploymentRefused(404, 'no-such-process',
                                    f'process {process_id!r} does not exist')
        return row
