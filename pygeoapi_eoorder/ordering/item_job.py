"""The built-in process that runs one order item in the job engine (`_oseo_order_item`).

Its id starts with `_`, so pygeoapi leaves it out of the OpenAPI document; the Processes
adapter also hides it from /processes and refuses to execute it directly.
"""

from __future__ import annotations

import secrets
import shutil
from datetime import timedelta

from pygeoapi.process.base import ProcessorExecuteError

from .. import plugins
from ..execution.context import JobProcessor
from ..store import utcnow
from . import states
from .processors import ItemProcessingError, ItemWork

METADATA = {
    'version': '1.0.0', 'id': '_oseo_order_item', 'title': 'OSEO order item',
    'description': 'Processes and delivers one item of an OSEO order (internal).',
    'jobControlOptions': ['async-execute'], 'keywords': ['OSEO'],
    'inputs': {'order': {'title': 'order id', 'minOccurs': 1, 'schema': {'type': 'string'}},
               'item': {'title': 'item key', 'minOccurs': 1, 'schema': {'type': 'string'}}},
    'outputs': {'delivery': {'title': 'delivered files',
                             'schema': {'type': 'object',
                                        'contentMediaType': 'application/json'}}},
}


def load_item_processor(dotted: str, config: dict):
    """The item processor class the configuration names (`package.module.Class`),
    instantiated with `config`."""
    try:
        cls = plugins.resolve(dotted, 'item processor')
    except plugins.PluginError as err:
        raise ItemProcessingError(str(err)) from None
    return cls(config)


def download_url(base_url: str, token: str, name: str) -> str:
    return f'{base_url.rstrip("/")}/oseo/downloads/{token}/{name}'


def withdrawn(item: dict, now) -> bool:
    """Is the item's delivery gone: its files removed, or past its expiration date?"""
    return bool(item['files_removed'] or (item['expires'] and item['expires'] < now))


class OrderItemProcess(JobProcessor):
    def __init__(self, processor_def):
        super().__init__(processor_def, METADATA)

    def execute(self, data, outputs=None):
        from .notify import notify_change
        from .service import OrderService
        ctx = self.context
        service = OrderService(ctx.settings, ctx.manager)
        item = service.repo.item(str(data.get('item')))
        if item is None or item['order_id'] != data.get('order'):
            raise ProcessorExecuteError(user_msg='order item not found')
        change = service.repo.transition_item(item['id'], states.IN_PRODUCTION, 'in production')
        if change is None:  # cancelled or terminated before it started
            ctx.log.info('item %s is %s: nothing to do', item['item_id'],
                         service.repo.item(item['id'])['status'])
            return 'application/json', {'item': item['item_id'], 'status': 'skipped'}
        notify_change(service, change, ctx.log)
        try:
            result = self._run(service, item)
        except Exception as err:
            message = str(err) if isinstance(err, ItemProcessingError) else \
                f'{type(err).__name__}: {err}'
            change = service.repo.transition_item(item['id'], states.FAILED, message[:4000])
            notify_change(service, change, ctx.log)
            service.start_items(item['order_id'])
            raise ProcessorExecuteError(user_msg=message) from None
        notify_change(service, result, ctx.log)
        service.start_items(item['order_id'])
        return 'application/json', {'item': item['item_id'], 'status': 'Completed'}

    def _run(self, service, item: dict):
        ctx = self.context
        conf = service.conf
        collection = conf.collections.get(item['collection_id'])
        dotted = (conf.tasking.get('handler') if item['kind'] == 'tasking' else None) or \
            (collection.conf.get('processor') if collection else None) or conf.processor
        processor = load_item_processor(dotted, {'ordering': conf.block,
                                                 'collection': collection.conf
                                                 if collection else None})
        work = ItemWork(order_id=item['order_id'], item_id=item['item_id'], kind=item['kind'],
                        identifier=item['identifier'], collection=collection,
                        options=item['options'] or {}, packaging=item['packaging'],
                        protocol=item['protocol'], workdir=ctx.workdir, log=ctx.log,
                        progress=ctx.progress, settings=ctx.settings, manager=ctx.manager,
                        job=ctx.job, base_url=ctx.base_url)
        ctx.record_provenance(used=[{
            'kind': 'Product', 'label': item['identifier'], 'collection': item['collection_id'],
            'itemId': item['item_id'], 'options': item['options'] or None,
            'packaging': item['packaging'], 'itemProcessor': dotted}])
        processor.prepare(work)
        processor.process(work)
        token = secrets.token_urlsafe(24)
        target = conf.downloads_dir / token
        partial = conf.downloads_dir / f'.{token}.part'
        shutil.rmtree(partial, ignore_errors=True)
        delivered = processor.deliver(work, partial)
        names, expires = self._publish(conf, item, partial, delivered, target)
        ctx.progress(95, 'delivered')
        ctx.record_provenance(generated=[{'kind': 'DeliveredFile', 'label': name}
                                         for name in names])
        change = service.repo.transition_item(
            item['id'], states.COMPLETED, 'ready for download', files=names, token=token,
            expires=expires)
        if change is None:  # cancelled meanwhile: withdraw the delivery
            if expires is None:  # delivered into a workspace
                from .workspace_delivery import withdraw_item
                withdraw_item(ctx, item)
            else:
                processor.clean(target)
            raise ItemProcessingError('item cancelled during processing')
        if expires is None:
            return change
        ctx.log.info('delivered %s', ', '.join(download_url(ctx.base_url, token, n)
                                               for n in names))
        return change

    def _publish(self, conf, item: dict, partial, delivered: list, target) -> tuple:
        """Publish the delivered files: into the workspace the order names (kept there,
        no expiry), else as downloads (expiring); (their names, the expiry)."""
        from .workspace_delivery import OPTION, deliver
        workspace_id = (item['options'] or {}).get(OPTION)
        if workspace_id:
            try:
                return deliver(self.context, item, workspace_id, partial, delivered), None
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        names = [path.relative_to(partial).as_posix() for path in delivered]
        partial.rename(target)
        return names, utcnow() + timedelta(seconds=conf.delivery['expiration_seconds'])
