"""The example item processor in plugins/ runs order items as documented."""

import hashlib

import requests

from .conftest import REPO
from .support import oseo
from .support.oseo import NS


def test_checksum_processor(make_server, tmp_path, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', str(REPO / 'plugins'))
    root = tmp_path / 'products'
    oseo.make_products(root, ['p1'])
    block = oseo.eoorder_block(root)
    block['ordering']['collections'][0]['processor'] = \
        'eoorder_examples.checksum_processor.ChecksumProcessor'
    server = make_server(block, {})
    reply = oseo.post(server, oseo.submit(oseo.item('a', 'p1')))
    order_id = oseo.payload(reply).findtext('oseo:orderId', namespaces=NS)
    assert oseo.wait_status(server, order_id, ('Completed', 'Failed'))[0] == 'Completed'
    access = oseo.payload(oseo.post(server, oseo.describe(order_id)))
    urls = sorted(u.text for u in access.iterfind('.//oseo:URL', NS))
    assert [u.rsplit('/', 1)[1] for u in urls] == ['p1.dat', 'p1.dat.sha256']
    data = requests.get(urls[0], timeout=10).content
    checksum = requests.get(urls[1], timeout=10).text
    assert checksum.split()[0] == hashlib.sha256(data).hexdigest()
