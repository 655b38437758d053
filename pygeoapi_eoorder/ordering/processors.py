"""Item processors: how one order item becomes files to download.

A processor is a class referenced by dotted path (`ordering.processor`, or a
collection's `processor`), like any pygeoapi plugin. The item job calls, in order,
`prepare` (find and fetch the product), `process` (optional work on it), `deliver`
(return the files to publish) and, once the delivery has expired, `clean`.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..catalogue import demo
from ..execution.context import job_stager
from ..execution.errors import ExecutionError
from ..execution.paths import UnsafePathError
from .catalogue_lookup import product_href
from .packaging import copy_regular, package


class ItemProcessingError(Exception):
    """The item cannot be processed; the message is shown to the client."""


@dataclass
class ItemWork:
    """Everything a processor knows about the item it works on."""

    order_id: str
    item_id: str
    kind: str
    identifier: str | None
    collection: object | None  # settings.Collection
    options: dict
    packaging: str | None
    protocol: str | None
    workdir: Path
    log: logging.Logger
    progress: Callable[[int, str], None]
    settings: object  # config.Settings
    manager: object = None
    job: dict | None = None  # the item's job (processes run on the product share it)
    base_url: str = ''
    files: list[Path] = field(default_factory=list)  # what prepare/process produced


class ItemProcessor:
    """Base of item processors; the defaults do nothing but deliver `work.files`."""

    def __init__(self, config: dict):
        self.config = config

    def prepare(self, work: ItemWork) -> None:
        """Find the product and bring it into `work.workdir`; fill `work.files`."""

    def process(self, work: ItemWork) -> None:
        """Optional processing of `work.files` (replace them with the results)."""

    def deliver(self, work: ItemWork, target: Path) -> list[Path]:
        """Put the files to publish into `target`; return them."""
        return _deliver(work, target)

    def clean(self, published: Path) -> None:
        """Remove what was published once it expired."""
        shutil.rmtree(published, ignore_errors=True)


def _safe_name(value: str) -> str:
    keep = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in value)
    return keep.strip('._')[:100] or 'item'


def _deliver(work: ItemWork, target: Path) -> list[Path]:
    """Package `work.files` or copy them into `target`: regular files and directories
    only, never through a symbolic link, every name a safe relative path."""
    if not work.files:
        raise ItemProcessingError(f'item {work.item_id}: nothing to deliver')
    target.mkdir(parents=True, exist_ok=True)
    try:
        if work.packaging:
            return [package(work.files, target, _safe_name(work.item_id), work.packaging)]
        return [copy_regular(path, target) for path in work.files]
    except (UnsafePathError, FileExistsError) as err:
        raise ItemProcessingError(f'item {work.item_id}: cannot deliver ({err})') from None


class DefaultItemProcessor(ItemProcessor):
    """Resolves the product through the catalogue (or the collection's enclosure
    template), stages it in like an ADES input, and delivers it (packaged if asked)."""

    def prepare(self, work: ItemWork) -> None:
        href = product_href(work.settings, work.identifier or '', work.collection)
        if not href:
            raise ItemProcessingError(f'product {work.identifier!r} not found in the '
                                      'catalogue and its collection has no enclosure template')
        stager = job_stager(work.settings, work.workdir,  # (demo URLs: read in place)
                            own_urls=demo.file_urls(work.settings, ''))
        work.log.info('staging in %s', href)
        try:
            path = stager.fetch('product', href)
        except ExecutionError as err:
            raise ItemProcessingError(str(err).replace('input product', f'product '
                                                       f'{work.identifier}')) from None
        work.files = [path]
        work.progress(40, 'product staged in')

    def process(self, work: ItemWork) -> None:
        """Run the deployed process named by an option (`process:` in the collection's
        option) on the staged product; its results are delivered instead."""
        if work.collection is None:
            return
        for name, option in work.collection.option_names.items():
            if option.get('process') and name in work.options:
                self._run_process(work, option, name, work.options[name])

    def _run_process(self, work: ItemWork, option: dict, name: str, value: str) -> None:
        """Execute the process in this item's job (its containers are the job's: a cancel
        stops them), in a directory of its own under the item's work directory. Only the
        deployer's process runs: configured, or deployed by an admin (its id is reserved:
        a user's process of the same id is never run)."""
        from ..execution.context import JobContext
        from ..processes.reserved import trusted_processor
        process_id = option['process']
        try:
            processor = trusted_processor(work.manager.catalogue, process_id)
        except Exception:
            processor = None
        if processor is None:
            raise ItemProcessingError(f'option {name}: process {process_id!r} is not '
                                      'deployed on this server')
        work.log.info('running process %s for option %s=%s', process_id, name, value)
        job_dir = work.workdir / f'process-{name}'
        context = JobContext(work.manager.repo, work.job, job_dir, work.log, work.settings,
                             work.base_url, work.manager)
        context.file_roots = [str(work.workdir)]
        processor.context = context
        inputs = {**option.get('process_inputs', {}),
                  option.get('product_input', 'product'): {'href': work.files[0].as_uri()},
                  option.get('value_input') or name: value}
        try:
            processor.execute(inputs)
        except Exception as err:
            message = getattr(err, 'message', None) or getattr(err, 'user_msg', None) or err
            raise ItemProcessingError(f'process {process_id} failed: {message}') from None
        work.files = sorted((job_dir / 'results').iterdir())
        if not work.files:
            raise ItemProcessingError(f'process {process_id} produced no output')
        work.progress(70, f'process {process_id} done')
