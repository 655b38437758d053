"""What a job ran, as W3C PROV-JSON (OGC API - Processes Part 4 `/jobs/{id}/prov`).

The claim records the process the job runs (`claim_facts`), the worker what else it ran
as the job runs (the images its runner ran through `JobContext.record_provenance`); the
document is built from the job record with the `prov` package (the W3C PROV reference
model).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from prov.model import ProvDocument

from ..auth import acting_as, current_user, job_user

NS = 'eoorder'


def package_facts(catalogue, process_id: str) -> dict:
    """The process as it runs (as the caller, in a job its owner, gets it): a deployed
    one's package digest, a built-in's processor."""
    configured, registry = catalogue.configured, catalogue.registry
    found = None if process_id in configured else catalogue.resolve(
        process_id, current_user())
    row = registry.get(found[0]) if found is not None else None
    if row is not None and row.package is not None:
        return {'id': process_id, 'kind': 'deployed', 'mediaType': row.package_media_type,
                'packageDigest': 'sha256:' + hashlib.sha256(row.package.encode()).hexdigest()}
    conf = configured.get(process_id) or {}
    return {'id': process_id, 'kind': 'built-in',
            'processor': str((conf.get('processor') or {}).get('name', ''))}


def claim_facts(manager, job: dict) -> dict:
    """The provenance a claim of `job` records: what it had, and the process it runs as
    its owner gets it (`package_facts`)."""
    with acting_as(job_user(job), manager.auth):
        return {**(job.get('provenance') or {}),
                'process': package_facts(manager.catalogue, job['process_id'])}


def _local(kind: str, name: str) -> str:
    """A PROV local name for a named thing: any name (`a:b`, spaces) becomes a valid QName
    part; the name itself is kept in the record's `prov:label`."""
    return f'{kind}-' + quote(str(name), safe='-_.').replace('%', '_')


def _utc(value: datetime | None) -> datetime | None:
    """A stored time (naive UTC) as an aware one: PROV times are xsd:dateTime with offset."""
    return value.replace(tzinfo=timezone.utc) if value and value.tzinfo is None else value


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def _recorded(doc: ProvDocument, run, facts: dict, finished: datetime | None) -> None:
    """What the job's processor recorded beside its inputs and outputs: `used` things (an
    ordered product) and `generated` ones (delivered files), each `{kind, label, ...}`."""
    for role, things in (('used', facts.get('used')), ('generated', facts.get('generated'))):
        for number, thing in enumerate(things or []):
            entity = doc.entity(f'{role}-{number}', {
                'prov:type': f"{NS}:{thing.get('kind', 'Entity')}",
                'prov:label': str(thing.get('label', '')),
                **{f'{NS}:{key}': _literal(value) for key, value in thing.items()
                   if key not in ('kind', 'label') and value is not None}})
            if role == 'used':
                doc.used(run, entity)
            else:
                doc.wasGeneratedBy(entity, run, finished)


def document(job: dict, base_url: str, outputs: dict | None) -> dict:
    """The PROV-JSON document of a job: the run as an activity, its process (package and
    images), inputs and outputs as entities, its owner as the agent."""
    url = f"{base_url.rstrip('/')}/jobs/{job['id']}"
    facts = job.get('provenance') or {}
    doc = ProvDocument()
    doc.set_default_namespace(f'{url}/prov#')
    doc.add_namespace(NS, 'https://github.com/eoorder/ns#')
    started, finished = _utc(job['started']), _utc(job['finished'])
    run = doc.activity(_local('run', job['id']), started, finished, {
        'prov:type': f'{NS}:ProcessExecution', f'{NS}:status': job['status'],
        f'{NS}:jobID': job['id'], 'prov:label': f"job {job['id']} of {job['process_id']}"})
    user = doc.agent(_local('user', job['owner'] or 'anonymous'), {
        'prov:type': 'prov:Person', 'prov:label': job['owner'] or 'anonymous'})
    doc.wasAssociatedWith(run, user)
    process = facts.get('process') or {'id': job['process_id']}
    plan = doc.entity(_local('process', job['process_id']), {
        'prov:type': 'prov:Plan', 'prov:label': job['process_id'],
        **{f'{NS}:{key}': _literal(value) for key, value in process.items()
           if value is not None and key != 'id'}})
    doc.used(run, plan)
    for number, image in enumerate(facts.get('images') or []):
        entity = doc.entity(f'image-{number}', {
            'prov:type': f'{NS}:DockerImage', 'prov:label': image.get('reference', ''),
            f'{NS}:imageId': image.get('id', ''),
            f'{NS}:repoDigests': _literal(image.get('repoDigests') or [])})
        doc.used(run, entity)
        doc.wasDerivedFrom(entity, plan)
    _recorded(doc, run, facts, finished)
    for name, value in (job.get('inputs') or {}).items():
        doc.used(run, doc.entity(_local('input', name), {
            'prov:type': f'{NS}:Input', 'prov:label': name, 'prov:value': _literal(value)}))
    for name, value in (outputs or {}).items():
        entity = doc.entity(_local('output', name), {
            'prov:type': f'{NS}:Output', 'prov:label': name, 'prov:value': _literal(value)})
        doc.wasGeneratedBy(entity, run, finished)
        doc.wasAttributedTo(entity, user)
    return json.loads(doc.serialize(format='json'))

