"""A process that does nothing, so that benchmarks measure only the job machinery.

Served as `processor: {name: noop_process.NoopProcessor}` with this directory on
PYTHONPATH.
"""

from pygeoapi.process.base import BaseProcessor

PROCESS_METADATA = {
    'version': '1.0.0',
    'id': 'noop',
    'title': {'en': 'No-op'},
    'description': {'en': 'Returns {"id": "result", "value": "ok"} at once (benchmarks).'},
    'jobControlOptions': ['async-execute', 'sync-execute'],
    'keywords': ['benchmark'],
    'links': [],
    'inputs': {
        'note': {
            'title': 'Note',
            'description': 'Any text; ignored.',
            'schema': {'type': 'string'},
            'minOccurs': 0,
            'maxOccurs': 1,
            'keywords': [],
        },
    },
    'outputs': {
        'result': {
            'title': 'Result',
            'description': 'Always the same small JSON object.',
            'schema': {'type': 'object', 'contentMediaType': 'application/json'},
        },
    },
    'example': {'inputs': {}},
}


class NoopProcessor(BaseProcessor):
    """Answers immediately with a constant JSON object."""

    def __init__(self, processor_def: dict):
        super().__init__(processor_def, PROCESS_METADATA)

    def execute(self, data: dict, outputs: dict | None = None):
        return 'application/json', {'id': 'result', 'value': 'ok'}

    def __repr__(self):
        return f'<NoopProcessor> {self.name}'
