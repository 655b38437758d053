"""The catalogue: OGC API - Records collections on SQL (SQLite/PostGIS) and remote STAC APIs,
an OpenSearch Geo/Time/EO facade, and harvesters that fill SQL collections.

All query front ends (Records parameters, CQL2, OpenSearch) build one query model — a
pygeofilter AST (see :mod:`.query`) — that each backend translates (:mod:`.sql`, :mod:`.stac`).
"""
