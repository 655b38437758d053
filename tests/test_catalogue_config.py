"""The `eoorder.catalogue` configuration keys: defaults and one-line errors naming the key."""

from __future__ import annotations

import pytest

from pygeoapi_eoorder import config as eoconfig


def test_defaults():
    block = eoconfig.validate_block({})['catalogue']
    assert block['opensearch'] == {'enabled': True, 'default_count': 20, 'max_count': 100}
    assert block['federation'] == {'timeout_seconds': 10}
    assert block['harvest'] == {'timeout_seconds': 30, 'page_size': 100}


@pytest.mark.parametrize('block, key', [
    ({'federation': {'timeout_seconds': 0}}, 'eoorder.catalogue.federation.timeout_seconds'),
    ({'opensearch': {'max_count': 'many'}}, 'eoorder.catalogue.opensearch.max_count'),
    ({'harvest': {'page_size': 0}}, 'eoorder.catalogue.harvest.page_size'),
    ({'opensearch': {'enable': True}}, 'eoorder.catalogue.opensearch.enable'),
])
def test_bad_values_name_the_key(block, key):
    with pytest.raises(eoconfig.ConfigError) as err:
        eoconfig.validate_block({'catalogue': block})
    message = str(err.value)
    assert message.startswith(key + ':') and 'fix:' in message and '\n' not in message
