"""`python -m pygeoapi_eoorder.cli`: the `eoorder` command."""

from . import main

main()
