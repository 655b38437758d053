"""The served OpenAPI document passes ogcapi-registry's `validate_ogc_api` (issue 15) for
the conformance classes the server declares (Processes Parts 1, 2, 4, Records, Features
filter) — on a server with record collections, so the Records and Features rules run too.
openapi-spec-validator's check of the same document is in test_processes_conformance.py."""

from __future__ import annotations

import copy

import requests
import yaml

from .conftest import LOCAL_CONFIG, TEST_PROCESSES

# Findings the library gives that contradict the standards, each with its reason. Keys are
# (finding path, start of the message).
MISREADINGS = {
    # pygeoapi names the record path parameter `featureId`; the library takes every
    # `…/items/{x}` path whose variable is not literally `recordId` for a record *search*
    # and asks for `q`. OGC API - Records 1.0 defines `q` on `/collections/{id}/items`
    # (req/record-core-query-parameters), not on the single-record GET.
    ('paths//collections/products/items/{featureId}.get.parameters',
     "Records endpoint should have 'q'"),
    ('paths//collections/results/items/{featureId}.get.parameters',
     "Records endpoint should have 'q'"),
    # The STAC API (`/stac/…`) is not an OGC API - Records endpoint: the library applies the
    # Records rule to every `/items` path. STAC free text (`q`) is an optional extension the
    # STAC API does not declare, and the single-item GET has no query at all.
    ('paths//stac/collections/{collectionId}/items.get.parameters',
     "Records endpoint should have 'q'"),
    ('paths//stac/collections/{collectionId}/items/{itemId}.get.parameters',
     "Records endpoint should have 'q'"),
}


def _misreading(finding: dict) -> bool:
    return any(finding.get('path') == path and finding.get('message', '').startswith(start)
               for path, start in MISREADINGS)


def _served(make_server) -> tuple[dict, list[str]]:
    resources = {**yaml.safe_load(LOCAL_CONFIG.read_text())['resources'], **TEST_PROCESSES}
    server = make_server({'jobs': {'workers': 1}}, resources)
    document = requests.get(f'{server.url}/openapi', params={'f': 'json'}, timeout=60)
    assert document.status_code == 200, document.text[:500]
    conformance = requests.get(f'{server.url}/conformance', params={'f': 'json'}, timeout=10)
    return document.json(), conformance.json()['conformsTo']


def test_openapi_passes_ogcapi_registry(make_server):
    from ogcapi_registry.strategy_registry import validate_ogc_api

    document, conforms_to = _served(make_server)
    assert 'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core' in conforms_to
    assert 'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core' in conforms_to
    # The declared conformance is passed: without it the library guesses the API from the
    # paths and takes a workspace's `/records/{recordId}` for the Records API.
    result = validate_ogc_api(document, conforms_to)
    findings = [f for f in result.errors if not _misreading(f)]
    assert findings == []
    serious = [w for w in result.warnings if w.get('severity') in ('critical', 'error')]
    assert serious == []

    # the library does check the Processes rules: without the job status path it objects
    broken = copy.deepcopy(document)
    del broken['paths']['/jobs/{jobId}']
    refused = validate_ogc_api(broken, conforms_to)
    assert any(f['path'] == 'paths//jobs/{jobId}' and f.get('severity') == 'critical'
               for f in refused.errors), refused.errors
