"""Which collections of the configuration are this package's record collections."""

from __future__ import annotations

PROVIDER_PREFIX = 'pygeoapi_eoorder.catalogue.'


def record_provider(resources: dict, collection_id: str | None) -> dict | None:
    """The record provider definition of a collection, if it is one of ours."""
    resource = resources.get(collection_id) or {} if collection_id else {}
    for provider in resource.get('providers', []) or []:
        if provider.get('type') == 'record' and str(provider.get('name', '')).startswith(
                PROVIDER_PREFIX):
            return provider
    return None


def sql_collections(resources: dict) -> dict:
    """{collection id: provider definition} of the collections the SQL provider serves."""
    return {cid: provider for cid in resources
            if (provider := record_provider(resources, cid))
            and provider['name'].endswith('SQLRecordProvider')}
