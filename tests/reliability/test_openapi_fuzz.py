"""schemathesis against the OpenAPI document served by a running `eoorder serve`: requests
generated from every operation (valid ones, and invalid ones from the negative mode) are
sent over loopback; no reply may be a 5xx.

Nothing is excluded. What would make a generated request start long work is bounded by
the server's configuration instead: `jobs.sync_timeout_seconds: 2` turns a long synchronous
execution into an asynchronous one, and the two job workers just run what they are given.
One exception to "no 5xx": the OWS/SOAP bindings of /oseo and /wps answer some client errors
with a 5xx by rule (see `_ows_client_error`); those are accepted, and only those."""

from __future__ import annotations

import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from lxml import etree
from schemathesis import GenerationMode

from ..support import oseo

EXAMPLES = 12          # per operation and generation mode
BUDGET_SECONDS = 150   # for the whole module, whatever the number of operations


@pytest.fixture(scope='module')
def api_server(tmp_path_factory):
    from ..conftest import TEST_PROCESSES, Server
    from ..support.catalogue import records_resource
    root = tmp_path_factory.mktemp('openapi-fuzz')
    (root / 'products').mkdir()
    block = oseo.eoorder_block(root / 'products', jobs={'workers': 2, 'sync_timeout_seconds': 2})
    server = Server(root, block, {**TEST_PROCESSES,
                                  'products': records_resource('EO products')}).start()
    yield server
    server.stop()


NOT_IMPLEMENTED = ('OperationNotSupported', 'OptionNotSupported', 'OrderTypeNotSupported')


OWS_NAMESPACES = (oseo.OWS, 'http://www.opengis.net/ows/1.1', 'http://www.opengis.net/ows/2.0')
OWS_PATHS = ('/oseo', '/wps', '/wps/rest')


def _ows_client_error(response) -> bool:
    """A 5xx the OWS bindings (OSEO, WPS) prescribe for the client's own error: a SOAP 1.1
    fault (always 500) with faultcode soap:Client, or 501 with one of the exception codes
    OGC 06-121r9 table 28 maps to 501 ("not implemented" for a request naming an operation
    or option the service does not offer, e.g. an XML body whose root is no WPS request)."""
    try:
        root = etree.fromstring(response.content)
    except etree.XMLSyntaxError:
        return False
    if response.status_code == 500:
        return root.findtext(f'{{{oseo.SOAP11}}}Body/{{{oseo.SOAP11}}}Fault/faultcode') == \
            'soap:Client'
    codes = [e.get('exceptionCode') for ns in set(OWS_NAMESPACES)
             for e in root.iter(f'{{{ns}}}Exception')]
    return response.status_code == 501 and bool(codes) and all(c in NOT_IMPLEMENTED
                                                                for c in codes)


def local_refs_only(node, parent: str | None = None):
    """The document with its remote `$ref`s (pygeoapi points at schemas.opengis.net) made
    local: a response becomes a bare response, a schema accepts anything. The tests never
    leave loopback, and schemathesis would otherwise fetch them."""
    if isinstance(node, dict):
        ref = node.get('$ref')
        if isinstance(ref, str) and not ref.startswith('#'):
            return {'description': f'(remote) {ref}'} if parent == 'responses' else {}
        return {key: local_refs_only(value, key) for key, value in node.items()}
    if isinstance(node, list):
        return [local_refs_only(value, parent) for value in node]
    return node


def test_no_generated_request_gets_a_5xx(api_server):
    document = requests.get(f'{api_server.url}/openapi?f=json', timeout=30).json()
    schema = schemathesis.openapi.from_dict(local_refs_only(document))
    results = list(schema.get_all_operations())
    invalid = [str(r.err()) for r in results if not hasattr(r, 'ok')]
    assert not invalid, invalid  # the served document is a valid OpenAPI document
    operations = [result.ok() for result in results]
    labels = sorted(op.label for op in operations)
    # the document covers the API: processes, jobs, Part 2, ordering, records, OpenSearch
    assert any(label.startswith('POST /processes/') and label.endswith('/execution')
               for label in labels), labels
    for expected in ('GET /jobs', 'POST /processes', 'PUT /processes/{processId}',
                     'DELETE /processes/{processId}', 'POST /oseo', 'GET /opensearch/search',
                     'GET /collections/products/items'):
        assert expected in labels, labels
    failures: list[str] = []
    counts: dict[str, int] = {}
    session = requests.Session()
    start = time.monotonic()
    for index, operation in enumerate(operations):
        # each operation has its slice of the budget (what one leaves unused carries over),
        # so that the last operations of a long document are reached too
        deadline = start + BUDGET_SECONDS * (index + 1) / len(operations)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if time.monotonic() > deadline and counts.get(operation.label):
                break  # out of time, and reached at least once

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                if time.monotonic() > deadline and counts.get(operation.label):
                    return
                response = case.call(base_url=api_server.url, session=session, timeout=30)
                counts[operation.label] = counts.get(operation.label, 0) + 1
                if response.status_code >= 500 and not (
                        operation.path in OWS_PATHS and _ows_client_error(response)):
                    failures.append(f'{case.method} {case.formatted_path} '
                                    f'query={case.query} headers={case.headers} '
                                    f'body={str(case.body)[:300]!r} -> '
                                    f'{response.status_code} {response.text[:300]}')
            try:
                run()
            except Exception as err:  # noqa: BLE001 - a strategy that cannot be generated
                if 'Unsatisfiable' not in type(err).__name__ and \
                        'InvalidArgument' not in type(err).__name__:
                    raise
    print(f'\nschemathesis: {len(counts)} of {len(operations)} operations, '
          f'{sum(counts.values())} requests; per operation: {counts}')
    assert not failures, '\n'.join(failures[:10]) + f'\nserver log:\n{api_server.log()[-3000:]}'
    assert len(counts) >= len(operations) - 2, (sorted(set(labels) - set(counts)))
