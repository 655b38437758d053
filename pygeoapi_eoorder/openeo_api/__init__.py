"""The openEO API 1.2 (adapter) on the shared catalogue, processes, job engine and users.

Mounted at `<prefix>/openeo/1.2/` (and `/.well-known/openeo`) by `http.install` when the
data-cube libraries are installed (the `openeo` extra); graph processing itself is the
`datacube` service's.
"""
