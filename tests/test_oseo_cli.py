"""`eoorder orders` (the click group the CLI mounts): list and moderate orders."""

from click.testing import CliRunner

from pygeoapi_eoorder.cli.orders import orders

from .support import oseo
from .support.oseo import NS


def test_cli_approve_and_reject(make_server, tmp_path):
    root = tmp_path / 'products'
    oseo.make_products(root, ['p1'])
    server = make_server(oseo.eoorder_block(root, moderation={'product': 'manual'}), {})
    ids = [oseo.payload(oseo.post(server, oseo.submit(oseo.item('a', 'p1'))))
           .findtext('oseo:orderId', namespaces=NS) for _ in range(2)]
    runner = CliRunner()
    listed = runner.invoke(orders, ['list', '--config', str(server.config),
                                    '--status', 'Submitted'])
    assert listed.exit_code == 0 and all(i in listed.output for i in ids)
    done = runner.invoke(orders, ['approve', ids[0], '--config', str(server.config)])
    assert done.exit_code == 0, done.output
    assert 'Submitted -> Accepted' in done.output
    assert oseo.wait_status(server, ids[0], ('Completed',))[0] == 'Completed'
    again = runner.invoke(orders, ['approve', ids[0], '--config', str(server.config)])
    assert again.exit_code == 1 and 'only Submitted orders' in again.output
    rejected = runner.invoke(orders, ['reject', ids[1], '--reason', 'quota',
                                      '--config', str(server.config)])
    assert rejected.exit_code == 0
    assert oseo.order_status(server, ids[1])[0] == 'Terminated'
    missing = runner.invoke(orders, ['approve', 'nope', '--config', str(server.config)])
    assert missing.exit_code == 1 and 'no order' in missing.output
