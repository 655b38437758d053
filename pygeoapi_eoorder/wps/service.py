"""The WPS operations, version by version, on the engine gateway."""

from __future__ import annotations

import json
from contextlib import ExitStack

from flask import Response
from lxml import etree

from .. import urls
from . import execute, transactions, v1, v1_execute, v2
from .engine import Engine
from .errors import WpsError
from .raw import raw_output
from .requests import V1, WpsRequest
from .xmlns import XML_TYPE, serialize

FINAL = ('successful', 'failed', 'dismissed')
TRANSACTION_CODES = {409: 'DuplicateProcess', 403: 'NotAuthorized', 401: 'NotAuthorized',
                     404: 'NoSuchProcess', 400: 'InvalidParameterValue'}


def _xml(element, status: int = 200, headers: dict | None = None) -> Response:
    reply = Response(serialize(element), status=status, mimetype=XML_TYPE)
    for key, value in (headers or {}).items():
        reply.headers[key] = value
    return reply


class WpsService:
    """Answers parsed WPS requests for the processes and jobs the caller may see."""

    def __init__(self, manager, metadata: dict):
        self.engine = Engine(manager)
        self.metadata = metadata

    @property
    def base_url(self) -> str:
        return urls.base_url()

    @property
    def endpoint(self) -> str:
        return f'{self.base_url}/wps'

    def answer(self, request: WpsRequest) -> Response:
        handler = getattr(self, f'_{request.operation}', None)
        if handler is None:
            raise WpsError('OperationNotSupported', f'{request.operation} is not supported '
                           f'in WPS {request.version}', 'request')
        return handler(request)

    def _service(self) -> dict:
        identification = self.metadata.get('identification') or {}
        provider = self.metadata.get('provider') or {}

        def text(value) -> str:
            return value.get('en', next(iter(value.values()), '')) \
                if isinstance(value, dict) else str(value or '')
        return {'title': text(identification.get('title')) or 'WPS',
                'abstract': text(identification.get('description')) or 'WPS',
                'provider': text(provider.get('name')) or 'pygeoapi-eoorder',
                'provider_url': str(provider.get('url') or self.base_url)}

    def _processes(self) -> list[dict]:
        return [self.engine.describe(pid) for pid in self.engine.process_ids()]

    def _GetCapabilities(self, request: WpsRequest) -> Response:
        if request.version == V1:
            return _xml(v1.capabilities(self._service(), self._processes(), self.endpoint))
        return _xml(v2.capabilities(self._service(), self._processes(), self.endpoint,
                                    self.engine.notifier().schemes))

    def _DescribeProcess(self, request: WpsRequest) -> Response:
        ids = request.identifiers
        if not ids:
            raise WpsError('MissingParameterValue', 'identifier missing', 'Identifier')
        if [i.lower() for i in ids] == ['all']:
            ids = self.engine.process_ids()
        processes = [self.engine.describe(pid) for pid in ids]
        if request.version == V1:
            return _xml(v1.descriptions(processes))
        return _xml(v2.offerings(processes))

    # -- execution --------------------------------------------------------------------
    def _Execute(self, request: WpsRequest) -> Response:
        if request.version == V1:
            return v1_execute.execute_v1(self, request)
        with ExitStack() as waiting:
            process, job, asynchronous = execute.start(self.engine, request, waiting)
            if not asynchronous:
                job = self.engine.wait(job['id'])
        if job['status'] not in FINAL:
            return self._status(job)
        return self._result(job, process, request.response)

    def job_links(self, job: dict) -> dict:
        # Link header only: StatusInfo has no extension point (the ER's REST-XML adds atom:link)
        monitor = f"{self.endpoint}?service=WPS&version=2.0.0&request=GetStatus&jobId={job['id']}"
        cancel = f"{self.endpoint}?service=WPS&version=2.0.0&request=Dismiss&jobId={job['id']}"
        return {'Link': v2.links(monitor, cancel)}

    def _status(self, job: dict) -> Response:
        return _xml(v2.status_info(job, self.engine.expiration(job)), 200, self.job_links(job))

    def failure(self, job: dict) -> WpsError:
        """The exception of a failed job (a refused transaction keeps its reason)."""
        error = job.get('error') or {}
        text = error.get('detail') or job.get('message') or 'the job failed'
        status = int(error.get('status') or 500)
        if job['process_id'] in transactions.OUTPUTS and status in TRANSACTION_CODES:
            return WpsError(TRANSACTION_CODES[status], text, 'Identifier', status=400
                            if status == 409 else status)
        return WpsError('NoApplicableCode', f"job {job['id']} failed: {text}", 'JobID',
                        status=500)

    # -- WPS-T ----------------------------------------------------------------------------
    def _transaction(self, request: WpsRequest, process_id: str, inputs: dict) -> Response:
        if request.version == V1 or request.element is None:
            raise WpsError('OperationNotSupported', f'{process_id} is a WPS 2.0 XML '
                           'request', 'request')
        return self.transaction(process_id, inputs)

    def transaction(self, process_id: str, inputs: dict) -> Response:
        """Run DeployProcess or UndeployProcess as the caller's job; its XML result."""
        with self.engine.manager.sync_slot():
            job = self.engine.submit(process_id, inputs, None, 'document')
            job = self.engine.wait(job['id'])
        if job['status'] != 'successful':
            raise self.failure(job) if job['status'] == 'failed' else WpsError(
                'NoApplicableCode', f"job {job['id']} is {job['status']}", status=500)
        _, value = self.engine.raw_result(job)
        value = value.get('value', value) if isinstance(value, dict) else value
        document = transactions.result_document(process_id, value)
        if document is None:
            raise WpsError('NoApplicableCode', f'{process_id} gave no result', status=500)
        return _xml(document)

    def _DeployProcess(self, request: WpsRequest) -> Response:
        package = transactions.application_package(request.element) \
            if request.element is not None else None
        return self._transaction(request, 'DeployProcess', {'applicationPackage': package})

    def _UndeployProcess(self, request: WpsRequest) -> Response:
        identifier = transactions.undeploy_identifier(request.element) \
            if request.element is not None else None
        return self._transaction(request, 'UndeployProcess', {'processIdentifier': identifier})

    def _result(self, job: dict, process: dict, mode: str) -> Response:
        if job['status'] == 'failed':
            raise self.failure(job)
        outputs = execute.job_outputs(self.engine, job, process, self.base_url)
        if mode == 'raw':
            return raw_output(outputs[0] if outputs else None)
        return _xml(v2.result(job, outputs, self.engine.expiration(job)))

    def _GetStatus(self, request: WpsRequest) -> Response:
        return self._status(self.engine.job(_job_id(request)))

    def _GetResult(self, request: WpsRequest) -> Response:
        job = self.engine.job(_job_id(request))
        if job['status'] not in FINAL:
            raise WpsError('ResultNotReady', f"job {job['id']} is {job['status']}", 'JobID')
        if job['status'] == 'dismissed':
            raise WpsError('NoSuchJob', f"job {job['id']} was dismissed", 'JobID')
        return self._result(job, self.process_of(job), 'document')

    def _Dismiss(self, request: WpsRequest) -> Response:
        job = self.engine.dismiss(_job_id(request))
        return _xml(v2.status_info(job, None))

    def process_of(self, job: dict) -> dict:
        """The job's process as the WPS documents name it (titles in English)."""
        try:
            return self.engine.view(job['process_id'])
        except Exception:  # undeployed since: the job's outputs still answer
            return {'id': job['process_id'], 'outputs': {}}

    def output_value(self, job_id: str, name: str) -> Response:
        """An output given by reference that is a value (not a file) of the job."""
        job = self.engine.job(job_id)
        outputs = execute.public_outputs(job['process_id'],
                                         self.engine.outputs(job, self.base_url))
        if name not in outputs:
            raise WpsError('NoSuchOutput', f'job {job_id} has no output {name!r}', name,
                           status=404)
        value = outputs[name]
        if isinstance(value, etree._Element):
            return Response(serialize(value), mimetype=transactions.XML_TYPE)
        if isinstance(value, (dict, list)):
            return Response(json.dumps(value), mimetype='application/json')
        return Response(str(value), mimetype='text/plain')


def _job_id(request: WpsRequest) -> str:
    if not request.job_id:
        raise WpsError('MissingParameterValue', 'JobID missing', 'JobID')
    return request.job_id
