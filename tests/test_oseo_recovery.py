"""No lost orders: an item whose job was never created (a crash between the two writes) is
picked up again by the job engine's sweep when it starts."""

import sqlite3

from .conftest import Server
from .support import oseo
from .support.oseo import NS


def test_item_whose_job_went_missing_is_run_after_restart(tmp_path):
    products = tmp_path / 'products'
    products.mkdir()
    oseo.make_products(products, ['p1'])
    server = Server(tmp_path, oseo.eoorder_block(products), {}).start()
    try:
        reply = oseo.post(server, oseo.submit(oseo.item('a', 'p1')))
        order_id = oseo.payload(reply).findtext('oseo:orderId', namespaces=NS)
        assert oseo.wait_status(server, order_id, ('Completed',))[0] == 'Completed'
        server.stop()
        # the state a crash right after the item got its job id leaves behind
        with sqlite3.connect(server.data_dir / 'eoorder.db') as db:
            job_id = db.execute('select job_id from eoorder_order_item where order_id = ?',
                                (order_id,)).fetchone()[0]
            db.execute('delete from eoorder_job where id = ?', (job_id,))
            db.execute("update eoorder_order_item set status = 'Accepted' where order_id = ?",
                       (order_id,))
            db.execute("update eoorder_order set status = 'Accepted' where id = ?",
                       (order_id,))
        server.start()
        status, items = oseo.wait_status(server, order_id, ('Completed', 'Failed'))
        assert (status, items) == ('Completed', {'a': 'Completed'})
        assert server.job(job_id)['status'] == 'successful'
    finally:
        server.stop()
