"""Processes the tests run: they report progress, write files and fail on request."""

import os
import time

from pygeoapi.process.base import ProcessorExecuteError

from pygeoapi_eoorder.jobs import JobProcessor


def _metadata(pid: str, job_control: list[str]) -> dict:
    return {
        'version': '1.0.0', 'id': pid, 'title': pid, 'description': f'{pid} (test process)',
        'jobControlOptions': job_control, 'keywords': ['test'],
        'inputs': {
            'steps': {'title': 'steps', 'minOccurs': 0, 'schema': {'type': 'integer',
                                                                  'minimum': 0}},
            'delay': {'title': 'delay between steps (s)', 'minOccurs': 0,
                      'schema': {'type': 'number', 'minimum': 0}},
            'pid_file': {'title': 'where to write the worker pid', 'minOccurs': 0,
                         'schema': {'type': 'string'}},
            'hold_file': {'title': 'keep running while this file exists', 'minOccurs': 0,
                          'schema': {'type': 'string'}},
            'fail': {'title': 'fail after the steps', 'minOccurs': 0,
                     'schema': {'type': 'boolean'}},
        },
        'outputs': {'count': {'title': 'steps done', 'schema': {'type': 'integer'}}},
    }


class Countdown(JobProcessor):
    """Counts `steps` steps of `delay` seconds, reporting progress after each."""

    job_control = ['sync-execute', 'async-execute']

    def __init__(self, processor_def):
        super().__init__(processor_def, _metadata(processor_def.get('id', 'countdown'),
                                                  self.job_control))

    def execute(self, data, outputs=None):
        steps = int(data.get('steps', 3))
        delay = float(data.get('delay', 0.05))
        if data.get('pid_file'):
            with open(data['pid_file'], 'w') as fh:
                fh.write(str(os.getpid()))
        (self.context.workdir / 'scratch.txt').write_text('partial work')
        print(f'countdown: {steps} steps of {delay}s', flush=True)
        for step in range(steps):
            time.sleep(delay)
            self.report_progress(int((step + 1) * 100 / (steps + 1)), f'step {step + 1}/{steps}')
        hold = data.get('hold_file')  # the job keeps running while this file exists
        deadline = time.monotonic() + 120
        while hold and os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.05)
        if data.get('fail'):
            raise ProcessorExecuteError('asked to fail')
        return 'application/json', {'id': 'count', 'value': steps}


class AsyncCountdown(Countdown):
    job_control = ['async-execute']


class TextResult(JobProcessor):
    """Returns plain text, to check raw results keep their media type."""

    def __init__(self, processor_def):
        meta = _metadata('text', ['sync-execute', 'async-execute'])
        meta['inputs'] = {'text': {'title': 'text', 'schema': {'type': 'string'}}}
        meta['outputs'] = {'text': {'title': 'text', 'schema': {'type': 'string',
                                                                'contentMediaType': 'text/plain'}}}
        super().__init__(processor_def, meta)

    def execute(self, data, outputs=None):
        return 'text/plain', data['text'].upper()
