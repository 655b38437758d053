"""Alembic environment: always run programmatically on a connection handed over by
`pygeoapi_eoorder.store.migrate.upgrade` (in `config.attributes['connection']`)."""

from alembic import context

from pygeoapi_eoorder.store.models import Base

connection = context.config.attributes.get('connection')
if connection is None or context.is_offline_mode():
    raise SystemExit('eoorder migrations run through `eoorder db upgrade --config FILE`')

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == 'sqlite')
with context.begin_transaction():
    context.run_migrations()
