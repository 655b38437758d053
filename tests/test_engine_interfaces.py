"""The job engine's extension points and the component registry (issue #14), on a real
configuration file and a real SQLite store; no server needed."""

from __future__ import annotations

import abc
import inspect

import pytest
import yaml
from pygeoapi.process.manager.base import get_manager

from pygeoapi_eoorder import config as eoconfig
from pygeoapi_eoorder.auth import Auth, AuthenticationFailed, Authenticator
from pygeoapi_eoorder.components import Components, PluginError, resolve
from pygeoapi_eoorder.execution.runner import ExecutionRunner
from pygeoapi_eoorder.jobs.result_store import DatabaseResults, LocalResults, ResultStore

from .conftest import REPO, make_config


@pytest.fixture
def config_path(tmp_path):
    return make_config(tmp_path, 5999)


def test_result_stores_are_siblings_behind_one_interface():
    for store in (LocalResults, DatabaseResults):
        assert issubclass(store, ResultStore) and not inspect.isabstract(store)
    assert not issubclass(DatabaseResults, LocalResults)
    assert not issubclass(LocalResults, DatabaseResults)
    assert inspect.isabstract(ResultStore)
    abstract = ResultStore.__abstractmethods__
    assert {'publish', 'publish_log', 'after_job', 'read', 'results_dir', 'log_path',
            'remove'} <= abstract


def test_runners_implement_the_documented_base_class(config_path):
    components = Components.for_config(config_path)
    assert set(components.runners) == {'docker', 'cwl'}
    for kind, runner in components.runners.items():
        assert isinstance(runner, ExecutionRunner) and runner.kind == kind
    assert {'run', 'stop', 'missing_images'} <= ExecutionRunner.__abstractmethods__
    assert issubclass(ExecutionRunner, abc.ABC)


def test_one_registry_per_configuration_shared_with_pygeoapis_manager(config_path):
    components = Components.for_config(config_path)
    assert Components.for_config(str(config_path)) is components
    manager = get_manager(components.config)   # as pygeoapi builds it from server.manager
    assert manager.services is components.services
    assert components.manager.engine is components.engine
    kinds = {'local': 'LocalDispatcher', 'celery': 'CeleryDispatcher'}
    assert type(components.dispatcher).__name__ == kinds[components.settings.jobs.engine]
    assert type(components.results).__name__ == 'LocalResults'
    assert components.sweepers and all(callable(s) for s in components.sweepers)
    name = 'pygeoapi_eoorder.ordering.processors.DefaultItemProcessor'
    assert components.item_processor(name) is resolve(name)
    assert components.item_processors[name] is resolve(name)


def test_resolve_names_the_problem_in_one_line():
    assert resolve('pygeoapi_eoorder.auth:Auth') is Auth
    for bad in ('nodots', 'pygeoapi_eoorder.nothing_here.Thing', 'pygeoapi_eoorder.auth.Nope'):
        with pytest.raises(PluginError) as err:
            resolve(bad, 'item processor')
        assert str(err.value).startswith(f'item processor {bad!r}') and '\n' not in str(err.value)


def test_job_settings_defaults_are_the_schemas():
    schema = yaml.safe_load((REPO / 'pygeoapi_eoorder' / 'config_schema.yml').read_text())
    expected = {key: spec['default']
                for key, spec in schema['properties']['jobs']['properties'].items()}
    assert vars(eoconfig.JobSettings.from_block({})) == expected


class NoPasswords(Authenticator):
    def authenticate(self, request):
        return None


def test_username_token_needs_an_authenticator_that_checks_passwords(tmp_path):
    block = eoconfig.validate_block({})['auth']
    assert NoPasswords({}, tmp_path).check('alice', 'secret') is None   # the default
    block['authenticators'] = [{'name': f'{__name__}.NoPasswords'}]
    with pytest.raises(AuthenticationFailed):
        Auth(block, tmp_path).check_username_token('alice', 'secret')
