"""A process for the crash-safety test: returns at once with a self-checking result."""

import hashlib

from pygeoapi_eoorder.jobs import JobProcessor

SIZE = 64 * 1024


def payload(tag: str) -> dict:
    """The result for `tag`: big enough that a torn write would show, with its own digest."""
    data = (tag * (SIZE // max(1, len(tag)) + 1))[:SIZE]
    return {'tag': tag, 'data': data, 'sha256': hashlib.sha256(data.encode()).hexdigest()}


class Payload(JobProcessor):
    def __init__(self, processor_def):
        super().__init__(processor_def, {
            'version': '1.0.0', 'id': 'payload', 'title': 'payload',
            'description': 'returns a 64 KiB JSON document at once (crash-safety test)',
            'jobControlOptions': ['async-execute', 'sync-execute'], 'keywords': ['test'],
            'inputs': {'tag': {'title': 'tag', 'schema': {'type': 'string'}}},
            'outputs': {'result': {'title': 'result', 'schema': {'type': 'object'}}}})

    def execute(self, data, outputs=None):
        return 'application/json', payload(str(data['tag']))
