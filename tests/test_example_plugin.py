"""The example process in plugins/ runs in the job engine as documented."""

import requests

from .conftest import REPO


def test_tiling_example(make_server, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', str(REPO / 'plugins'))
    server = make_server(resources={'tiling': {
        'type': 'process', 'processor': {'name': 'eoorder_examples.tiling.TilingProcess'}}})
    job_id = server.submit('tiling', {'bbox': [0, 0, 2, 2], 'n': 2})
    job = server.wait_for(job_id)
    assert job['status'] == 'successful', job
    tiles = requests.get(f'{server.url}/jobs/{job_id}/results?response=document',
                         timeout=10).json()['tiles']
    assert len(tiles['features']) == 4
    assert (server.data_dir / 'jobs' / job_id / 'work' / 'tiles.geojson').is_file()
    bad = server.submit('tiling', {'bbox': [2, 0, 0, 2]})
    assert 'bbox: min must be below max' in server.wait_for(bad)['message']
