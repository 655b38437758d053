"""openEO `/files`: the caller's own file area (list, upload, download, delete)."""

from __future__ import annotations

from flask import Response, request, send_file

from ..datacube import user_files
from ..execution.paths import UnsafePathError
from .errors import error, json_response, not_found
from .views import auth_required, signed_in


class FileViews:
    def __init__(self, settings):
        self.settings = settings

    def listing(self):
        user = signed_in()
        if user is None:
            return auth_required()
        return json_response({'files': user_files.listing(self.settings, user.name),
                              'links': []})

    def upload(self, path: str):
        user = signed_in()
        if user is None:
            return auth_required()
        try:
            stored = user_files.write(self.settings, user.name, path, request.stream)
        except UnsafePathError as err:
            return error(400, 'FilePathInvalid', str(err))
        return json_response(stored)

    def download(self, path: str):
        user = signed_in()
        if user is None:
            return auth_required()
        handle = user_files.open_file(self.settings, user.name, path)
        if handle is None:
            return not_found(f'file {path!r}', 'FileNotFound')
        return send_file(handle, mimetype='application/octet-stream',
                         download_name=path.rsplit('/', 1)[-1])

    def delete(self, path: str):
        user = signed_in()
        if user is None:
            return auth_required()
        if not user_files.delete(self.settings, user.name, path):
            return not_found(f'file {path!r}', 'FileNotFound')
        return Response(status=204)
