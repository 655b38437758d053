"""The demo products' files over HTTP (`GET <base>/demo/files/<name>`): the URLs the
catalogue gives for them (`catalogue.demo.published`). Only the demo files are served
(by name: no other file of the folder, no path); public like the catalogue by default
(`auth.public_paths`), open to browser clients of other sites like the STAC API that links
to them (`web.cors`). Range requests and conditional GETs work."""

from __future__ import annotations

from flask import Flask, send_file

from ..catalogue import demo
from ..web import cors
from ..web.problem import problem

ENDPOINT = 'eoorder.demo_file'


def install(app: Flask, api, settings) -> None:
    def demo_file(name: str):
        path = demo.demo_file(settings, name)
        if path is None:
            return problem(404, 'not-found', f'no demo file {name[:200]!r}')
        return send_file(path, mimetype='image/tiff; application=geotiff', conditional=True,
                         download_name=name)

    app.add_url_rule(f'{api.urls.prefix}{demo.FILES_PATH}/<path:name>', ENDPOINT, demo_file,
                     methods=['GET'])
    if cors.allowed(settings, api.manager.auth):
        cors.open_to_browsers(app, (f'{api.urls.prefix}{demo.FILES_PATH}',), 'Retry-After')


def openapi_paths() -> dict:
    """Component hook: the demo files' path in the server's OpenAPI document."""
    return {f'{demo.FILES_PATH}/{{name}}': {'get': {
        'summary': 'a demo product file (GeoTIFF), as the demo records link to it',
        'tags': ['records'],
        'parameters': [{'name': 'name', 'in': 'path', 'required': True,
                        'schema': {'type': 'string'}}],
        'responses': {'200': {'description': 'the file', 'content': {
            'image/tiff; application=geotiff': {'schema': {'type': 'string',
                                                           'format': 'binary'}}}},
                      '404': {'description': 'no such demo file (problem+json)'}}}}}
