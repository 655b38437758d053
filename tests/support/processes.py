"""Processes the tests run: they report progress, write files and fail on request."""

import os
import time

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

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


class Registering(JobProcessor):
    """Writes a one-item STAC catalog and registers it in the results collection; with
    `hold_file`, keeps running after that while the file exists; with `fail_after`, one
    more completion write fails (the registration must go with it); with `after_result`,
    the catalog is written and registered once the result document is (its log says
    whether the document was there), and with `fail_after_result` that step fails."""

    def __init__(self, processor_def):
        meta = _metadata('registering', ['async-execute'])
        for name, title in (('fail_after', 'a failing completion write'),
                            ('after_result', 'registered once the result is written'),
                            ('fail_after_result', 'a failing step once the result is written')):
            meta['inputs'][name] = {'title': title, 'minOccurs': 0,
                                    'schema': {'type': 'boolean'}}
        super().__init__(processor_def, meta)

    def execute(self, data, outputs=None):
        from pygeoapi_eoorder.execution.errors import ExecutionError
        ctx = self.context
        if data.get('after_result') or data.get('fail_after_result'):
            ctx.once_result_written(lambda: self._after_result(data))
            return 'application/json', {'id': 'count', 'value': 1}
        self._register()
        if data.get('fail_after'):
            def fail(connection):
                raise ExecutionError('the second completion write failed')
            ctx.on_success(fail)
        hold = data.get('hold_file')
        deadline = time.monotonic() + 120
        while hold and os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.05)
        return 'application/json', {'id': 'count', 'value': 1}

    def _after_result(self, data) -> None:
        from pygeoapi_eoorder.execution.errors import ExecutionError
        ctx = self.context
        document = ctx.job_dir / 'results' / 'result.json'
        ctx.log.info('result document written before this step: %s', document.is_file())
        if data.get('fail_after_result'):
            raise ExecutionError('the step once the result was written failed')
        self._register()

    def _register(self) -> None:
        import pystac

        from pygeoapi_eoorder.execution.stage_out import register_stac
        ctx = self.context
        folder = ctx.job_dir / 'results' / 'stac'
        item = pystac.Item(id='scene', geometry=None, bbox=None,
                           datetime=pystac.utils.str_to_datetime('2024-06-01T00:00:00Z'),
                           properties={'title': 'registered by a test process'})
        catalog = pystac.Catalog(id='out', description='test output')
        catalog.add_item(item)
        catalog.normalize_hrefs(str(folder))
        catalog.save(pystac.CatalogType.SELF_CONTAINED)
        register_stac(ctx, folder, f'{ctx.base_url}/jobs/{ctx.job_id}/results/stac')


class LateFiles(JobProcessor):
    """Leaves a result file to a thread of its own that writes it a moment later."""

    def __init__(self, processor_def):
        super().__init__(processor_def, _metadata('late-files', ['async-execute']))

    def execute(self, data, outputs=None):
        from pygeoapi_eoorder.jobs.results import InBackground
        target = self.context.job_dir / 'results' / 'late' / 'late.json'

        def write():
            time.sleep(0.3)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text('{"late": true}')
        self.context.in_background(InBackground(write, 'late'))
        return 'application/json', {'written': 'late/late.json'}


class Garbage:
    """A reference cycle that writes `marker` when the cyclic collector frees it."""

    def __init__(self, marker: str):
        self.marker, self.itself = marker, self

    def __del__(self):
        with open(self.marker, 'w') as fh:
            fh.write('collected')


class LeavesGarbage(JobProcessor):
    """Leaves a reference cycle behind (see `Garbage`) and returns the collector's
    thresholds as it ran."""

    def __init__(self, processor_def):
        meta = _metadata('garbage', ['async-execute'])
        meta['inputs'] = {'marker': {'title': 'file written when the cycle is freed',
                                     'schema': {'type': 'string'}}}
        meta['outputs'] = {'thresholds': {'title': 'gc thresholds', 'schema': {
            'type': 'array', 'items': {'type': 'integer'}}}}
        super().__init__(processor_def, meta)

    def execute(self, data, outputs=None):
        import gc
        Garbage(data['marker'])
        return 'application/json', list(gc.get_threshold())


class LinkEcho(BaseProcessor):
    """A plain pygeoapi processor whose input is itself a link object: it answers the
    link it got."""

    def __init__(self, processor_def):
        super().__init__(processor_def, {
            'version': '1.0.0', 'id': 'link-echo', 'title': 'link-echo',
            'description': 'answers its link input', 'jobControlOptions': ['async-execute'],
            'inputs': {'link': {'title': 'a link', 'schema': {
                'type': 'object', 'required': ['href'],
                'properties': {'href': {'type': 'string'}, 'rel': {'type': 'string'}}}}},
            'outputs': {'link': {'title': 'the link', 'schema': {'type': 'object'}}}})

    def execute(self, data, outputs=None):
        return 'application/json', {'id': 'link', 'value': data.get('link')}
