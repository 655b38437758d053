"""REST/JSON and HTML views of orders (/orders, /orders/{id}) and the moderation route,
over the same order service as OSEO."""

from __future__ import annotations

import json
from typing import Callable

from flask import Request, Response

from .. import urls
from ..auth.service import current_user
from ..ordering.access import may_read_order, sees_every_order
from ..ordering.errors import OseoError
from ..ordering.repository import OrderQuery
from ..store import isoformat
from ..web.problem import problem


def _wants_html(request: Request) -> bool:
    if request.args.get('f'):
        return request.args['f'] == 'html'
    return request.accept_mimetypes.best_match(['application/json', 'text/html']) == \
        'text/html'


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype='application/json')


class OrderViews:
    def __init__(self, service, auth, base_url: Callable[[], str], renderer=None):
        self.renderer = renderer
        self.service = service
        self.auth = auth
        self._base_url = base_url

    @property
    def base_url(self) -> str:
        """The server's base URL for this request (see `pygeoapi_eoorder.urls`)."""
        return self._base_url().rstrip('/')

    def _user(self):
        user = current_user()
        if user is None:
            return None, problem(401, 'unauthorized', 'authentication required')
        return user, None

    def list(self, request: Request) -> Response:
        user, error = self._user()
        if error:
            return error
        try:
            limit = max(1, min(int(request.args.get('limit', 20)), 1000))
            # past 10**9 no order is left, and SQL integers stay in range (64 bits)
            offset = min(max(0, int(request.args.get('offset', 0))), 10**9)
        except ValueError:
            return problem(400, 'invalid-parameter', 'limit and offset must be integers')
        statuses = [s for s in request.args.get('status', '').split(',') if s]
        orders, total = self.service.repo.query(OrderQuery(
            owner=user.name, any_owner=sees_every_order(self.auth, user), statuses=statuses,
            limit=limit, offset=offset))
        body = {'orders': [dict(self.service.summary(o), links=[{
            'rel': 'self', 'href': f'{self.base_url}/orders/{o["id"]}',
            'type': 'application/json'}]) for o in orders],
            'numberMatched': total, 'numberReturned': len(orders), 'links': []}
        if offset + limit < total:
            body['links'].append({'rel': 'next', 'type': 'application/json', 'href':
                                  f'{self.base_url}/orders?limit={limit}&offset={offset + limit}'})
        if _wants_html(request):
            return self._page('eoorder/orders.html', 'Orders', orders=body)
        return _json(body)

    def _page(self, template: str, title: str, **data) -> Response:
        """A page in pygeoapi's layout, with the package's navigation."""
        html_text = self.renderer.render(template, {
            'title': title, 'base': urls.path(), 'section': 'orders', 'ordering': True, **data})
        return Response(html_text, mimetype='text/html')

    def _order(self, user, order_id: str):
        order = self.service.repo.get(order_id, with_request=False)
        if order is None or not may_read_order(self.auth, user, order['owner']):
            return None
        return order

    def get(self, request: Request, order_id: str) -> Response:
        user, error = self._user()
        if error:
            return error
        order = self._order(user, order_id)
        if order is None:
            return problem(404, 'not-found', f'no order {order_id!r}')
        items = self.service.repo.items(order_id)
        if self.service.reconcile(order_id, items):
            order = self.service.repo.get(order_id, with_request=False)
            items = self.service.repo.items(order_id)
        body = self.service.summary(order, items)
        body['history'] = [{'at': isoformat(h['at']), 'item': h['item'], 'from': h['from_status'],
                            'to': h['to_status'], 'message': h['message']}
                           for h in self.service.repo.history(order_id)]
        for entry in body['items']:
            if entry['jobID']:
                entry['job'] = f'{self.base_url}/jobs/{entry["jobID"]}'
        if _wants_html(request):
            return self._page('eoorder/order_detail.html', f'Order {order_id}', order=body)
        return _json(body)

    def moderate(self, request: Request, order_id: str, decision: str) -> Response:
        """POST /orders/{id}/approve or /reject (body: optional {"reason": ...})."""
        user, error = self._user()
        if error:
            return error
        if not self.auth.allowed(user, 'moderate'):
            return problem(403, 'forbidden', 'moderating orders needs the moderate permission')
        if self.service.repo.get(order_id, with_request=False) is None:
            return problem(404, 'not-found', f'no order {order_id!r}')
        reason = (request.get_json(silent=True) or {}).get('reason', '') if \
            request.is_json else request.form.get('reason', '')
        try:
            change = (self.service.approve(order_id, f'approved by {user.name}')
                      if decision == 'approve' else self.service.reject(order_id, reason))
        except OseoError as err:
            return problem(400, 'invalid-parameter', err.text)
        if change is None:
            order = self.service.repo.get(order_id, with_request=False)
            return problem(409, 'invalid-parameter', f'order {order_id!r} is '
                           f'{order["status"]}: only Submitted orders can be moderated')
        from ..ordering.notify import notify_change
        notify_change(self.service, change)
        return _json(self.service.summary(self.service.repo.get(order_id, with_request=False)))
