"""The `eoorder` command line: help, config validation, OpenAPI, one-line errors."""

import json
import subprocess

import yaml

from .conftest import LOCAL_CONFIG, eoorder_cmd, free_port, make_config, server_env


def run(*args, env=None):
    return subprocess.run(eoorder_cmd(*args), capture_output=True, text=True, timeout=120,
                          env=env or server_env())


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result
    assert 'Traceback' not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def write_config(tmp_path, eoorder):
    config = yaml.safe_load(LOCAL_CONFIG.read_text())
    config['eoorder'] = eoorder
    path = tmp_path / 'c.yml'
    path.write_text(yaml.safe_dump(config))
    return path


def test_help_explains_each_command():
    result = run('--help')
    assert result.returncode == 0
    for command in ('serve', 'config', 'openapi'):
        assert command in result.stdout
    serve_help = run('serve', '--help').stdout
    for option in ('--config', '--host', '--port'):
        assert option in serve_help


def test_validate_accepts_the_embedded_default():
    result = run('config', 'validate', str(LOCAL_CONFIG))
    assert result.returncode == 0, result.stderr
    assert 'valid' in result.stdout and 'sqlite' in result.stdout


def test_unknown_key_names_key_and_fix(tmp_path):
    path = write_config(tmp_path, {'jobs': {'wokers': 2}})
    assert_one_line_error(run('config', 'validate', str(path)), 'eoorder.jobs.wokers',
                          'unknown key', 'fix:', 'workers')


def test_bad_value_names_key_and_fix(tmp_path):
    path = write_config(tmp_path, {'jobs': {'workers': 0}})
    assert_one_line_error(run('config', 'validate', str(path)), 'eoorder.jobs.workers',
                          'fix: use a value >= 1')
    path = write_config(tmp_path, {'store': {'url': 'mysql://x'}})
    assert_one_line_error(run('config', 'validate', str(path)), 'eoorder.store.url', 'fix:')
    path = write_config(tmp_path, {'jobs': {'engine': 'spark'}})
    assert_one_line_error(run('config', 'validate', str(path)), 'eoorder.jobs.engine',
                          'use one of: local')


def test_foreign_manager_is_refused(tmp_path):
    config = yaml.safe_load(LOCAL_CONFIG.read_text())
    config['server']['manager'] = {'name': 'TinyDB', 'connection': 'x', 'output_dir': 'y'}
    path = tmp_path / 'c.yml'
    path.write_text(yaml.safe_dump(config))
    assert_one_line_error(run('config', 'validate', str(path)), 'server.manager.name',
                          'pygeoapi_eoorder.jobs.Manager')


def test_missing_file_and_broken_yaml(tmp_path):
    assert_one_line_error(run('config', 'validate', str(tmp_path / 'nope.yml')),
                          'file not found')
    broken = tmp_path / 'broken.yml'
    broken.write_text('server:\n  url: [unclosed\n')
    assert_one_line_error(run('config', 'validate', str(broken)), 'not valid YAML', 'line')


def test_serve_with_bad_config_stops_with_one_line(tmp_path):
    path = write_config(tmp_path, {'jobs': {'workers': 'many'}})
    assert_one_line_error(run('serve', '--config', str(path), '--port', '1'),
                          'eoorder.jobs.workers', 'integer')


def test_environment_overrides_data_dir_and_store(tmp_path):
    env = server_env()
    env['EOORDER_DATA_DIR'] = str(tmp_path / 'elsewhere')
    result = run('config', 'validate', str(LOCAL_CONFIG), env=env)
    assert str(tmp_path / 'elsewhere') in result.stdout
    env['EOORDER_STORE_URL'] = 'postgresql+psycopg://postgres@127.0.0.1/test'
    assert 'store postgresql' in run('config', 'validate', str(LOCAL_CONFIG), env=env).stdout
    env['EOORDER_STORE_URL'] = 'oracle://x'
    assert_one_line_error(run('config', 'validate', str(LOCAL_CONFIG), env=env),
                          'EOORDER_STORE_URL')


def test_openapi_lists_our_routes_and_processes(tmp_path):
    path = make_config(tmp_path, 5000)
    result = run('openapi', str(path))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert '/jobs/{jobId}/log' in document['paths']
    assert '/processes/countdown/execution' in document['paths']
    names = [p['name'] for p in document['paths']['/jobs']['get']['parameters'] if 'name' in p]
    for name in ('type', 'processID', 'status', 'datetime', 'minDuration', 'maxDuration'):
        assert name in names


def test_openapi_describes_record_collections_and_builtin_processes(tmp_path):
    """No app runs and $PYGEOAPI_CONFIG is unset: the command gives the record provider
    its configuration itself (pygeoapi builds it to describe the collection's items)."""
    from .conftest import TEST_PROCESSES
    from .support.catalogue import records_resource
    path = make_config(tmp_path, free_port(), {},
                       {**TEST_PROCESSES, 'products': records_resource('Products')})
    env = server_env()
    env.pop('PYGEOAPI_CONFIG', None)
    result = run('openapi', str(path), env=env)
    assert result.returncode == 0, result.stderr
    paths = json.loads(result.stdout)['paths']
    assert '/collections/products/items' in paths, result.stderr
    assert {'/processes/DeployProcess/execution',
            '/processes/UndeployProcess/execution'} <= set(paths)


def test_serve_with_an_app_config_error_stops_with_one_line(tmp_path):
    """A config error only found while building the app (here: an `ordering.schemas` that
    holds no schemas) stops `eoorder serve` (gunicorn) with one line, not worker tracebacks."""
    empty = tmp_path / 'no-schemas'
    empty.mkdir()
    path = write_config(tmp_path, {'data_dir': str(tmp_path / 'data'),
                                   'ordering': {'enabled': True, 'schemas': str(empty)}})
    result = run('serve', '--config', str(path), '--port', str(free_port()))
    assert_one_line_error(result, 'eoorder.ordering.schemas', 'oseo/1.0/oseo.xsd not found',
                          'fix:')
