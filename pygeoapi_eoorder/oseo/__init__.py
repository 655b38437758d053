"""The OSEO adapter: OGC 06-141r6 (OSEO 1.0) over HTTP, on the order service (`ordering`).

Modules: `http` (routes: /oseo, /oseo/downloads, /orders), `endpoint` (one request in,
one response or exception out, in the client's binding), `operations` (one module per
OSEO operation), `schemas` (XSD loading and validation of requests and responses),
`identity` (who calls: HTTP credentials or WS-Security), `views` (the REST/JSON and HTML
order views), `downloads` (delivered files).
"""
