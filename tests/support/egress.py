"""Egress allowance for tests whose sources (STAC APIs, file servers) listen on loopback:
the default policy refuses internal addresses, so these servers allow loopback explicitly."""

from __future__ import annotations

LOOPBACK_HOSTS = ['127.0.0.1', 'localhost']


def allow_loopback(block: dict | None = None) -> dict:
    """A copy of the eoorder `block` whose `egress` also allows the loopback test services."""
    block = dict(block or {})
    egress = dict(block.get('egress') or {})
    egress['allowed_hosts'] = [*(egress.get('allowed_hosts') or []), *LOOPBACK_HOSTS]
    block['egress'] = egress
    return block


def allow_loopback_args() -> list[str]:
    """The same allowance for `eoorder harvest` on the command line."""
    return [arg for host in LOOPBACK_HOSTS for arg in ('--allow-host', host)]
