"""The capabilities document and the small discovery answers of the openEO API."""

from __future__ import annotations

from .. import __version__

API_VERSION = '1.2.0'
CONFORMANCE = [
    'https://api.openeo.org/1.2.0',
    'https://api.openeo.org/extensions/remote-process-algebra/0.1.0',
]
# (path, methods) of the endpoints this back-end serves
ENDPOINTS = (
    ('/', ['GET']), ('/conformance', ['GET']), ('/file_formats', ['GET']),
    ('/service_types', ['GET']), ('/udf_runtimes', ['GET']), ('/credentials/basic', ['GET']),
    ('/credentials/oidc', ['GET']),
    ('/me', ['GET']), ('/collections', ['GET']), ('/collections/{collection_id}', ['GET']),
    ('/processes', ['GET']), ('/processes/{namespace}', ['GET']),
    ('/processes/{namespace}/{process_id}', ['GET']), ('/process_graphs', ['GET']),
    ('/process_graphs/{process_graph_id}', ['GET', 'PUT', 'DELETE']),
    ('/validation', ['POST']), ('/result', ['POST']), ('/jobs', ['GET', 'POST']),
    ('/jobs/{job_id}', ['GET', 'PATCH', 'DELETE']),
    ('/jobs/{job_id}/results', ['GET', 'POST', 'DELETE']), ('/jobs/{job_id}/logs', ['GET']),
    ('/jobs/{job_id}/estimate', ['GET']), ('/files', ['GET']),
    ('/files/{path}', ['GET', 'PUT', 'DELETE']),
)


def capabilities(base: str, title: str, description: str) -> dict:
    return {
        'api_version': API_VERSION, 'backend_version': __version__, 'stac_version': '1.1.0',
        'type': 'Catalog', 'id': 'pygeoapi-eoorder', 'title': title,
        'description': description, 'production': False, 'conformsTo': CONFORMANCE,
        'endpoints': [{'path': path, 'methods': methods} for path, methods in ENDPOINTS],
        'billing': {'currency': None},
        'links': [
            {'rel': 'self', 'href': f'{base}/', 'type': 'application/json'},
            {'rel': 'conformance', 'href': f'{base}/conformance', 'type': 'application/json'},
            {'rel': 'data', 'href': f'{base}/collections', 'type': 'application/json'},
            {'rel': 'version-history', 'href': f'{base.rsplit("/openeo/", 1)[0]}'
             '/.well-known/openeo', 'type': 'application/json'},
        ],
    }


def well_known(root: str) -> dict:
    return {'versions': [{'url': f'{root}/openeo/1.2/', 'api_version': API_VERSION,
                          'production': False}]}


def file_formats() -> dict:
    raster = {'gis_data_types': ['raster'], 'parameters': {}}
    return {
        'input': {'GTiff': {'title': 'GeoTIFF', **raster},
                  'netCDF': {'title': 'netCDF (load_stac: a variable per band over t, y, x)',
                             **raster}},
        'output': {'GTiff': {'title': 'GeoTIFF (one file per date if time remains)', **raster},
                   'netCDF': {'title': 'netCDF', **raster}},
    }
