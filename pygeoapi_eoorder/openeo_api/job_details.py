"""What an openEO client says about a batch job (title, description, plan, budget,
log_level; workspace): kept as the job's details (`eoorder_job.details`), not among its
inputs; shown by `GET /jobs` and `GET /jobs/{id}`, changed by `PATCH /jobs/{id}`."""

from __future__ import annotations

FIELDS = {'title': str, 'description': str, 'plan': str, 'budget': (int, float),
          'log_level': str, 'workspace': str}  # extension: the caller's workspace of the
# results (`processes.workspace_choice`), as OGC API's execute request member `workspace`
LOG_LEVELS = ('error', 'warning', 'info', 'debug')


def given(body: dict, partial: bool = False) -> tuple[dict, str | None]:
    """(the details in a request body, a problem or None); `null` clears a field (in a
    PATCH it is kept as None so that the merge removes it)."""
    found = {}
    for name, kind in FIELDS.items():
        if name not in body:
            continue
        value = body[name]
        if value is None:
            if partial:
                found[name] = None
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            return {}, f'{name}: a {getattr(kind, "__name__", "number")} or null is required'
        if name == 'log_level' and value not in LOG_LEVELS:
            return {}, f'log_level: one of {", ".join(LOG_LEVELS)}'
        found[name] = value
    return found, None
