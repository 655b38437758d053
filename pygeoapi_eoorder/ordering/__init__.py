"""Ordering: the order service behind OSEO; each order item runs as a job of the engine.

Modules: `states`/`repository` (orders in the store, one transition table; the tables are
`store.order_tables`), `service` (the order service every adapter and the CLI call),
`access` (who sees which orders), `settings`/`options` (the `ordering:` block, order
options), `processors`/`item_job`/`packaging`/`delivery` (item processing, expiry of
deliveries), `notify`/`notification_job` (client notifications), `subscriptions`,
`recovery` (the engine's sweep), `catalogue_lookup` (products in the catalogue). Orders
are kept and notified as OSEO documents: `xmlns`, `parsing`, `encode`, `soap` and
`errors` are that document model. The protocol adapter is `pygeoapi_eoorder.oseo`.
"""
