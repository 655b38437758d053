"""HTML pages in pygeoapi's look (app hook: `install(app, api, settings)`).

    /ui                               start page: what can be done here
    /ui/search                        catalogue search with a map; "order this product"
    /ui/order?collection=&identifier= order form driven by OSEO GetOptions, sends Submit
    /ui/orders/{id}                   an order's progress, history and downloads, live
    /ui/deploy                        deploy an application package (upload or paste)
    /ui/processes/{id}/execute        execute form generated from the process description
    /ui/jobs/{id}                     a job's progress and log, live
    /ui/static/{file}                 the pages' script and style
    /ui/vendor/{library}/{file}       Bootstrap, Leaflet, Swagger UI (from PyPI packages)

The pages are thin: they call the same public routes any client calls (/collections,
/oseo, /orders, /processes, /jobs) with `fetch`, so what the browser shows is what the API
says, and nothing here bypasses authentication or ownership checks.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request, send_from_directory
from pygeoapi.process.base import UnknownProcessError

from .. import urls
from ..auth import current_user
from ..ordering.access import may_read_order
from ..ordering.repository import OrderRepository
from ..store import get_store
from ..web.problem import problem
from ..web.pygeoapi_routes import url_prefix
from ..web.render import Renderer
from . import forms, vendor

STATIC = Path(__file__).resolve().parent / 'static'
ORDERING_REL = 'order'


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype='text/html')


class Pages:
    def __init__(self, api, settings):
        self.api = api
        self.settings = settings
        self.renderer = Renderer(api)
        ordering = settings.block.get('ordering') or {}
        self.ordering = bool(ordering.get('enabled'))
        # collections offered for ordering: a record of one of these gets "order this product"
        # even when its record lacks an `order` link
        self.orderable = [c.get('id') if isinstance(c, dict) else c
                          for c in ordering.get('collections') or []] if self.ordering else []
        self.orders = None
        if self.ordering:
            self.orders = OrderRepository(get_store(settings.store_url))

    @property
    def base_url(self) -> str:
        """The server's base URL for this request (see `pygeoapi_eoorder.urls`)."""
        return self.api.base_url.rstrip('/')

    def page(self, template: str, title: str, status: int = 200, **data) -> Response:
        data = {'title': title, 'base': urls.path(), 'ordering': self.ordering,
                'section': template.rsplit('/', 1)[-1].split('.')[0], **data}
        return _html(self.renderer.render(f'eoorder/{template}', data), status)

    def not_found(self, what: str) -> Response:
        if request.accept_mimetypes.best == 'application/json':
            return problem(404, 'not-found', what)
        return self.page('missing.html', 'Not found', status=404, message=what)

    # -- pages -------------------------------------------------------------------
    def home(self):
        return self.page('home.html', 'EO ordering, processing and catalogue')

    def search(self):
        return self.page('search.html', 'Catalogue search',
                         collection=request.args.get('collection', ''),
                         orderable=self.orderable,
                         q=request.args.get('q', ''))

    def order(self):
        collection = request.args.get('collection', '')
        identifier = request.args.get('identifier', '')
        if not self.ordering:
            return self.not_found('ordering is not enabled on this server')
        return self.page('order.html', 'Order a product', collection=collection,
                         identifier=identifier)

    def order_status(self, order_id: str):
        if not self.ordering:
            return self.not_found('ordering is not enabled on this server')
        order = self.orders.get(order_id, with_request=False)
        if order is None or not may_read_order(self.api.manager.auth, current_user(),
                                               order['owner']):
            return self.not_found(f'order {order_id!r} does not exist')
        return self.page('order_status.html', f'Order {order_id}', order_id=order_id,
                         links=[{'rel': 'alternate', 'type': 'application/json',
                                 'href': f'{self.base_url}/orders/{order_id}'}])

    def deploy(self):
        return self.page('deploy.html', 'Deploy an application package')

    def execute(self, process_id: str):
        try:
            processor = self.api.manager.get_processor(process_id)
        except (UnknownProcessError, KeyError):
            return self.not_found(f'process {process_id!r} does not exist')
        if process_id.startswith('_'):
            return self.not_found(f'process {process_id!r} does not exist')
        description = dict(processor.metadata)
        description.setdefault('id', process_id)
        return self.page('execute.html', f'Execute {description.get("title") or process_id}',
                         process=description, fields=forms.fields(description),
                         links=[{'rel': 'alternate', 'type': 'application/json',
                                 'href': f'{self.base_url}/processes/{process_id}'}])

    def job(self, job_id: str):
        job = self.api.manager.repo.get(job_id)
        if job is None or not self.api.manager.auth.owns(current_user(), job['owner']):
            return self.not_found(f'job {job_id!r} does not exist')
        return self.page('job.html', f'Job {job_id}', job_id=job_id,
                         process_id=job.get('process_id') or '',
                         links=[{'rel': 'alternate', 'type': 'application/json',
                                 'href': f'{self.base_url}/jobs/{job_id}'}])

    def static(self, name: str):
        response = send_from_directory(STATIC, name, max_age=300)
        return response

    def vendor_file(self, library: str, name: str):
        """Bootstrap, Leaflet and Swagger UI from their Python packages (no CDN)."""
        folder = vendor.folder(library)
        if folder is None:
            return self.not_found(f'no library {library!r}')
        return send_from_directory(folder, name, max_age=86400)


def install(app: Flask, api, settings) -> None:
    """Called by pygeoapi_eoorder.app for every web worker."""
    pages = Pages(api, settings)
    prefix = url_prefix(api.config)
    rules = [
        ('/ui', 'eoorder.ui_home', pages.home),
        ('/ui/search', 'eoorder.ui_search', pages.search),
        ('/ui/order', 'eoorder.ui_order', pages.order),
        ('/ui/orders/<order_id>', 'eoorder.ui_order_status', pages.order_status),
        ('/ui/deploy', 'eoorder.ui_deploy', pages.deploy),
        ('/ui/processes/<process_id>/execute', 'eoorder.ui_execute', pages.execute),
        ('/ui/jobs/<job_id>', 'eoorder.ui_job', pages.job),
        ('/ui/static/<path:name>', 'eoorder.ui_static', pages.static),
        ('/ui/vendor/<library>/<path:name>', 'eoorder.ui_vendor', pages.vendor_file),
    ]
    for path, endpoint, view in rules:
        app.add_url_rule(prefix + path, endpoint, view, methods=['GET'])


def openapi_paths() -> dict:
    """The HTML pages are not API: they are left out of the OpenAPI document."""
    return {}
