"""JSON views of jobs: OGC API - Processes statusInfo and results documents."""

from __future__ import annotations

from typing import Any

from ..store import isoformat
from .results import JSON_TYPE

REL_RESULTS = 'http://www.opengis.net/def/rel/ogc/1.0/results'
REL_STATUS = 'http://www.opengis.net/def/rel/ogc/1.0/job-status'


def status_info(job: dict, base_url: str = '') -> dict:
    """statusInfo of OGC API - Processes Part 1 for a job record."""
    url = f"{base_url.rstrip('/')}/jobs/{job['id']}"
    optional = {
        'processID': job['process_id'], 'message': job['message'], 'progress': job['progress'],
        'created': isoformat(job['created']), 'started': isoformat(job['started']),
        'finished': isoformat(job['finished']), 'updated': isoformat(job['updated']),
    }
    # the statusInfo schema allows no null: what is not known yet (started, finished) is left out
    # `jobID` for Part 1 1.0, the same as `id` for Part 4's statusInfo (which requires it)
    info = {'jobID': job['id'], 'id': job['id'], 'type': 'process', 'status': job['status'],
            **{key: value for key, value in optional.items() if value is not None}}
    if job['type'] != 'process':
        # Part 1 1.0 allows only `type: process` (every job here runs a process, internal
        # ones too); the engine's kind of job (order, notification, harvest, openeo…),
        # which `GET /jobs?type=` selects, is an extension member
        info['jobType'] = job['type']
    if job.get('duration') is not None:
        info['duration'] = round(job['duration'], 3)
    links = [{'href': url, 'rel': 'self', 'type': JSON_TYPE, 'title': 'This job'},
             {'href': f'{url}?f=html', 'rel': 'alternate', 'type': 'text/html',
              'title': 'This job as HTML'},
             # Part 1 2.0 draft: `rel=logs` for the job's log
             {'href': f'{url}/log', 'rel': 'logs', 'type': 'text/plain', 'title': 'Job log'}]
    if job['status'] == 'successful' and not job['files_removed']:
        links.append({'href': f'{url}/results', 'rel': REL_RESULTS,
                      'type': job['mimetype'] or JSON_TYPE, 'title': 'Job results'})
    if job['status'] == 'failed' and job.get('error'):
        info['exception'] = job['error']
    info['links'] = links
    return info


def _is_text(mimetype: str | None) -> bool:
    return bool(mimetype) and (mimetype.startswith('text/') or mimetype.endswith(('+xml', '/xml')))


def results_document(process: dict, job: dict, outputs: Any, mimetype: str,
                     base_url: str = '') -> dict:
    """Results as a document of named outputs (OGC API - Processes Part 1 `results`).

    pygeoapi processes return either `{'id': name, 'value': v}`, a mapping of output names,
    or one value; text is given by value, other media by reference to the raw result.
    """
    declared = list((process.get('outputs') or {}).keys())
    if mimetype == JSON_TYPE and isinstance(outputs, dict):
        if {'id', 'value'} <= set(outputs) and len(outputs) <= 3:
            return {str(outputs['id']): outputs['value']}
        if outputs and declared and set(outputs) <= set(declared):
            return outputs
    name = declared[0] if len(declared) == 1 else 'result'
    if mimetype == JSON_TYPE:
        return {name: outputs}
    if _is_text(mimetype) and isinstance(outputs, (bytes, str)):
        text = outputs.decode('utf-8', 'replace') if isinstance(outputs, bytes) else outputs
        return {name: text}
    href = f"{base_url.rstrip('/')}/jobs/{job['id']}/results?response=raw"
    return {name: {'href': href, 'type': mimetype}}
