"""openEO `/files`: the caller's own files (list, upload, download, delete): the personal
workspace where the deployer gives personal workspaces, else a per-user area with a
quota (`datacube.user_files`)."""

from __future__ import annotations

from flask import Response, current_app, request, send_file

from ..datacube import user_files
from ..execution.paths import UnsafePathError
from ..workspaces.bodies import ExactBody, IncompleteBody
from .errors import error, json_response, not_found
from .views import auth_required, signed_in

WORKSPACES = 'eoorder_workspaces'  # the workspace service, when that component is on


class FileViews:
    def __init__(self, settings):
        self.settings = settings

    def _area(self):
        """(the caller's file area, None) or (None, the refusal to answer)."""
        user = signed_in()
        if user is None:
            return None, auth_required()
        workspaces = current_app.extensions.get(WORKSPACES)
        return user_files.area(self.settings, user, workspaces), None

    def listing(self):
        area, refusal = self._area()
        return refusal or json_response({'files': area.listing(), 'links': []})

    def upload(self, path: str):
        area, refusal = self._area()
        if refusal:
            return refusal
        length = request.content_length
        try:  # (a body cut off before its length is refused: nothing of it is kept)
            stored = area.write(path, request.stream if length is None else
                                ExactBody(request.stream, length), length)
        except UnsafePathError as err:
            return error(400, 'FilePathInvalid', str(err))
        except user_files.StorageRefused as err:
            return error(400, err.code, str(err))
        except IncompleteBody as err:
            return error(400, 'BadRequest', str(err))
        return json_response(stored)

    def download(self, path: str):
        area, refusal = self._area()
        if refusal:
            return refusal
        handle = area.open(path)
        if handle is None:
            return not_found(f'file {path!r}', 'FileNotFound')
        return send_file(handle, mimetype='application/octet-stream',
                         download_name=path.rsplit('/', 1)[-1])

    def delete(self, path: str):
        area, refusal = self._area()
        if refusal:
            return refusal
        if not area.delete(path):
            return not_found(f'file {path!r}', 'FileNotFound')
        return Response(status=204)
