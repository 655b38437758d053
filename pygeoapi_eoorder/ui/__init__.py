"""HTML pages in pygeoapi's look: catalogue search and ordering, deploy, execute, jobs.

The app hook is `pygeoapi_eoorder.ui.http.install`; templates are in
`pygeoapi_eoorder/templates/eoorder/`, the pages' script and style in `ui/static/`.
"""
