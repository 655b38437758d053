"""The pywps side of the WPS benchmark: a WSGI application serving `count` no-op processes.

Run by gunicorn as `pywps_noop:application` with this directory on PYTHONPATH and
`PYWPS_BENCH_CFG` (the pywps configuration file) and `PYWPS_BENCH_PROCESSES` (how many
processes) in the environment. Status documents and outputs are written by pywps to its
`outputpath` and served here under `/outputs/` as static files, as a pywps deployment does.
"""

from __future__ import annotations

import json
import os

from pywps import ComplexOutput, Format, LiteralInput, Process, Service
from werkzeug.middleware.shared_data import SharedDataMiddleware
from wps_client import process_ids

RESULT = json.dumps({'id': 'result', 'value': 'ok'})


def _answer(request, response):
    """Does nothing: the same constant JSON object as benchmarks/noop_process.py."""
    response.outputs['result'].data = RESULT
    return response


class NoopProcess(Process):
    """The no-op process under a given identifier, with status and storage support."""

    def __init__(self, identifier: str = 'noop'):
        super().__init__(
            _answer, identifier=identifier, title='No-op', version='1.0.0',
            abstract='Returns {"id": "result", "value": "ok"} at once (benchmarks).',
            inputs=[LiteralInput('note', 'Note', data_type='string', min_occurs=0,
                                 abstract='Any text; ignored.')],
            outputs=[ComplexOutput('result', 'Result', supported_formats=[
                Format('application/json')], abstract='Always the same small JSON object.')],
            store_supported=True, status_supported=True)



def build(cfg_file: str, count: int):
    """The pywps Service for `count` processes, with its output directory served."""
    service = Service([NoopProcess(pid) for pid in process_ids(count)], [cfg_file])
    from pywps import configuration
    outputs = configuration.get_config_value('server', 'outputpath')
    return SharedDataMiddleware(service, {'/outputs': outputs}, cache=False)


if os.environ.get('PYWPS_BENCH_CFG'):
    application = build(os.environ['PYWPS_BENCH_CFG'],
                        int(os.environ.get('PYWPS_BENCH_PROCESSES', '100')))
