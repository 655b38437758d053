"""Ordering: an OGC 06-141r6 (OSEO 1.0) endpoint whose order items run as jobs of the engine.

Modules: `xmlns` (namespaces, builders), `schemas` (XSD loading and validation), `soap`
(bindings), `errors` (ows:ExceptionReport), `models`/`states`/`repository` (orders in the
store, one transition table), `service` (the order service used by OSEO and REST views),
`operations` (one module per OSEO operation), `processors`/`item_job`/`delivery`
(item processing and download), `notify` (client notifications), `http` (routes).
"""
