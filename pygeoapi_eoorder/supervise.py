"""Entry point of the local job engine's supervisor process (one per data directory):
`python -m pygeoapi_eoorder.supervise CONFIG`, started by the servers and `eoorder serve`
(`jobs/supervisor_control.py`). It builds the component registry, then supervises."""

from __future__ import annotations

import sys

from .components import Components
from .config import ConfigError
from .jobs.supervisor import serve


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print('usage: python -m pygeoapi_eoorder.supervise CONFIG', file=sys.stderr)
        return 2
    try:
        runtime = Components.for_config(args[0]).runtime()
    except ConfigError as err:
        print(f'eoorder supervisor: {err}', file=sys.stderr)
        return 2
    return serve(runtime)


if __name__ == '__main__':
    sys.exit(main())
