"""The `eoorder:` block: loading, defaults, validation and environment overrides.

Every problem is raised as :class:`ConfigError`, whose message is one line naming the
key, the problem and the fix, so that the CLI and the app can print it instead of a
traceback.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

MANAGER_NAME = 'pygeoapi_eoorder.jobs.Manager'
ENV_CONFIG = 'PYGEOAPI_CONFIG'
ENV_DATA_DIR = 'EOORDER_DATA_DIR'
ENV_STORE_URL = 'EOORDER_STORE_URL'
ENV_BROKER_URL = 'EOORDER_BROKER_URL'
ENV_BIND_URL = 'EOORDER_BIND_URL'  # set by `eoorder serve`: its --host/--port as a URL


class ConfigError(Exception):
    """A configuration problem, described in one line."""


def _schema() -> dict:
    text = resources.files('pygeoapi_eoorder').joinpath('config_schema.yml').read_text()
    return yaml.safe_load(text)


SCHEMA = _schema()


@dataclass(frozen=True)
class JobSettings:
    """`eoorder.jobs`; the defaults are the config schema's (`from_block`), never repeated."""

    engine: str
    workers: int
    sync_timeout_seconds: float
    retention_seconds: float
    max_attempts: int
    shutdown_grace_seconds: float
    callback_timeout_seconds: float
    broker_url: str
    queue: str
    prefetch: int
    lease_seconds: float
    sweep_interval_seconds: float
    result_store: str
    memory_limit: int | str = 'auto'
    max_sync_waits: int | str = 'auto'
    created_lifetime_seconds: float | None = None  # None: retention_seconds

    @property
    def created_lifetime(self) -> float:
        """Seconds a never-started `created` job is kept after its last change."""
        return self.created_lifetime_seconds or self.retention_seconds

    @classmethod
    def from_block(cls, jobs: dict) -> 'JobSettings':
        """From the `jobs` block; keys it leaves out take the schema's defaults."""
        return cls(**apply_defaults(SCHEMA['properties']['jobs'], copy.deepcopy(jobs)))


@dataclass(frozen=True)
class Settings:
    """The validated `eoorder:` block with defaults and overrides applied."""

    config_path: Path
    data_dir: Path
    store_url: str
    jobs: JobSettings
    block: dict
    public_url: str | None = None  # `server.url` if set: else links follow the request

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / 'jobs'

    @property
    def run_dir(self) -> Path:
        return self.data_dir / 'run'

    @property
    def log_dir(self) -> Path:
        return self.data_dir / 'logs'

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def to_dict(self) -> dict:
        """A JSON-friendly form, carried in the process manager definition."""
        return {'config_path': str(self.config_path), 'data_dir': str(self.data_dir),
                'store_url': self.store_url, 'block': self.block,
                'public_url': self.public_url}

    @classmethod
    def from_dict(cls, data: dict) -> 'Settings':
        block = data['block']
        return cls(config_path=Path(data['config_path']), data_dir=Path(data['data_dir']),
                   store_url=data['store_url'], jobs=JobSettings.from_block(block['jobs']), block=block,
                   public_url=data.get('public_url'))


def apply_defaults(schema: dict, value: Any) -> Any:
    """Fill in `default`s of object properties, recursively."""
    if schema.get('type') != 'object' or not isinstance(value, dict):
        return value
    for key, sub in schema.get('properties', {}).items():
        if key not in value and 'default' in sub:
            value[key] = copy.deepcopy(sub['default'])
        if key in value:
            value[key] = apply_defaults(sub, value[key])
    return value


def _fix_hint(err: jsonschema.ValidationError) -> str:
    """Say how to fix a schema violation."""
    kind, expected = err.validator, err.validator_value
    description = err.schema.get('description')
    if kind == 'additionalProperties':
        allowed = ', '.join(sorted(err.schema.get('properties', {})))
        return f'remove the unknown key or correct its spelling (allowed: {allowed})'
    if kind == 'required':
        return 'add the missing key'
    if kind == 'enum':
        return 'use one of: ' + ', '.join(str(v) for v in expected)
    if kind == 'type':
        return f'use a value of type {expected}' + (f' ({description})' if description else '')
    if kind in ('minimum', 'exclusiveMinimum'):
        return f'use a value {">=" if kind == "minimum" else ">"} {expected}'
    if kind in ('maximum', 'exclusiveMaximum'):
        return f'use a value {"<=" if kind == "maximum" else "<"} {expected}'
    if description:
        return f'set it to {description}'
    return 'see the deployer guide for this key'


def _key_path(prefix: str, err: jsonschema.ValidationError) -> str:
    parts = [prefix] + [str(p) for p in err.absolute_path]
    if err.validator == 'additionalProperties' and isinstance(err.instance, dict):
        extra = sorted(set(err.instance) - set(err.schema.get('properties', {})))
        if extra:
            parts.append(str(extra[0]))
    return '.'.join(parts)


def validate_block(block: Any) -> dict:
    """Validate the eoorder block and return it with defaults applied."""
    if block is None:
        block = {}
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(block), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        problem = err.message
        if err.validator == 'additionalProperties':
            problem = 'unknown key'
        raise ConfigError(f'{_key_path("eoorder", err)}: {problem}; fix: {_fix_hint(err)}')
    return apply_defaults(SCHEMA, copy.deepcopy(block))


def read_yaml(path: Path) -> dict:
    """Read a pygeoapi YAML file (with its ${ENV} interpolation)."""
    from pygeoapi.util import yaml_load

    if not path.is_file():
        raise ConfigError(f'{path}: file not found; fix: pass the path of a pygeoapi YAML file')
    try:
        with path.open(encoding='utf8') as fh:
            config = yaml_load(fh)
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        where = f' line {mark.line + 1}' if mark else ''
        raise ConfigError(f'{path}{where}: not valid YAML ({getattr(err, "problem", err)}); '
                          'fix: correct the YAML syntax') from None
    except Exception as err:  # pygeoapi raises for unset ${VARS}
        raise ConfigError(f'{path}: {err}; fix: set the environment variable or '
                          'remove the reference') from None
    if not isinstance(config, dict):
        raise ConfigError(f'{path}: not a pygeoapi configuration (a YAML mapping); '
                          'fix: start from config/local.yml')
    return config


def _check_pygeoapi_part(config: dict) -> None:
    """The parts of the pygeoapi configuration this package relies on."""
    server = config.get('server')
    if not isinstance(server, dict):
        raise ConfigError('server: missing; fix: add the pygeoapi `server:` block '
                          '(see config/local.yml)')
    if not isinstance(config.get('resources', {}), dict):
        raise ConfigError('resources: must be a mapping; fix: list resources by identifier')
    manager = server.get('manager')
    if manager is not None and (not isinstance(manager, dict)
                                or manager.get('name') != MANAGER_NAME):
        raise ConfigError(f'server.manager.name: must be {MANAGER_NAME} (the eoorder job '
                          f'engine); fix: remove server.manager or set its name to '
                          f'{MANAGER_NAME}')


def _validate_pygeoapi_schema(config: dict) -> None:
    from pygeoapi.config import load_schema
    from pygeoapi.util import to_json
    import json

    instance = json.loads(to_json(config))
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = '.'.join(str(p) for p in err.absolute_path) or '(top level)'
        raise ConfigError(f'{key}: {err.message}; fix: {_fix_hint(err)}')


def _public_url(server: dict) -> str | None:
    """`server.url` if the deployer set one (links then always start with it)."""
    url = server.get('url')
    if url is None or (isinstance(url, str) and not url.strip()):
        return None
    if not isinstance(url, str) or not url.startswith(('http://', 'https://')):
        raise ConfigError(f'server.url: {url!r} is not an http(s) URL; fix: remove the key '
                          'to build links from each request, or set the public URL '
                          '(e.g. https://eo.example.org)')
    return url.rstrip('/')


def bind_url(server: dict, host: str | None = None, port: int | None = None) -> str:
    """The URL of the bind address (links outside a request when server.url is unset)."""
    bind = server.get('bind') or {}
    host = str(host or bind.get('host') or '127.0.0.1')
    if host in ('0.0.0.0', '::', ''):
        host = 'localhost'
    host = f'[{host}]' if ':' in host else host
    return f'http://{host}:{port or bind.get("port") or 5000}'


def build_settings(config: dict, config_path: Path) -> Settings:
    """Validate the eoorder block of `config` and resolve paths and overrides."""
    block = validate_block(config.get('eoorder'))
    data_dir = Path(os.environ.get(ENV_DATA_DIR) or block['data_dir'])
    if not data_dir.is_absolute():
        base = config_path.parent if not os.environ.get(ENV_DATA_DIR) else Path.cwd()
        data_dir = (base / data_dir).resolve()
    store_url = (os.environ.get(ENV_STORE_URL) or block['store'].get('url')
                 or f'sqlite:///{data_dir / "eoorder.db"}')
    if not store_url.startswith(('sqlite', 'postgresql')):
        raise ConfigError(f'{ENV_STORE_URL}: unsupported store URL {store_url!r}; fix: use '
                          'sqlite:///PATH or postgresql+psycopg://USER@HOST/DB')
    if os.environ.get(ENV_BROKER_URL):  # kept in the block: it travels to the manager
        block['jobs']['broker_url'] = os.environ[ENV_BROKER_URL]
    if block['catalogue']['demo']:  # the demo products (catalogue/demo.py) can be ordered
        block['execution']['stage_in']['allowed_file_roots'].append(str(data_dir / 'demo'))
    jobs = JobSettings.from_block(block['jobs'])
    return Settings(config_path=config_path, data_dir=data_dir, store_url=store_url,
                    jobs=jobs, block=block, public_url=_public_url(config['server']))


def load(path: str | os.PathLike, strict: bool = False) -> tuple[dict, Settings]:
    """Load a pygeoapi config file; return it (manager set to ours) and our settings.

    `strict` also validates the pygeoapi part against pygeoapi's own JSON schema.
    """
    config_path = Path(path).resolve()
    config = read_yaml(config_path)
    _check_pygeoapi_part(config)
    settings = build_settings(config, config_path)
    config = copy.deepcopy(config)
    # pygeoapi needs a server.url; unset, ours follows each request (see urls.py)
    config['server']['url'] = (settings.public_url or os.environ.get(ENV_BIND_URL)
                               or bind_url(config['server']))
    config['server']['manager'] = {'name': MANAGER_NAME, 'output_dir': str(settings.jobs_dir),
                                   'connection': settings.store_url,
                                   'settings': settings.to_dict()}
    config['eoorder'] = settings.block
    config.setdefault('resources', {})  # the built-in processes: `components.load_config`
    if strict:
        _validate_pygeoapi_schema(config)
    return config, settings
