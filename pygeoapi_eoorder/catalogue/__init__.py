"""The catalogue: OGC API - Records collections on SQL (SQLite/PostGIS) and remote STAC APIs,
an OpenSearch Geo/Time/EO facade, and harvesters that fill SQL collections.

All query front ends (Records parameters, CQL2, OpenSearch) build one query model — a
pygeofilter AST (see :mod:`.query`) — that each backend translates (:mod:`.sql`, :mod:`.stac`).
"""

#: pygeoapi's provider name of the SQL record store (`sql_provider.SQLRecordProvider`): the
#: resources of our SQL collections carry it, and the adapters recognise them by it
SQL_PROVIDER = f'{__name__}.sql_provider.SQLRecordProvider'
