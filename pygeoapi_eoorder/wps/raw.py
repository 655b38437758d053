"""The raw response of WPS Execute: the one output itself, in its own media type."""

from __future__ import annotations

import base64

from flask import Response

from .describe import Output
from .errors import WpsError
from .xmlns import XML_TYPE, serialize


def raw_output(output: Output | None) -> Response:
    """The one output of a raw response, as its own media type."""
    if output is None:
        raise WpsError('NoApplicableCode', 'the job produced no output', status=500)
    if output.href is not None:
        return Response(status=303, headers={'Location': output.href})
    if output.xml is not None:
        return Response(serialize(output.xml), mimetype=output.mime_type or XML_TYPE)
    if output.encoding == 'base64':
        return Response(base64.b64decode(output.value),
                        mimetype=output.mime_type or 'application/octet-stream')
    return Response(output.value or '', mimetype=output.mime_type or 'text/plain')
