"""Alembic environment of the codes service's database.

Run programmatically by `CodeStore.migrate()`, which passes its open connection in
`config.attributes["connection"]`. The version table is `alembic_version_codes`, so the
codes schema can share one PostgreSQL database with the other services' schemas.
"""
from alembic import context
from sqlalchemy import create_engine

VERSION_TABLE = "alembic_version_codes"


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # the alembic command line: the URL comes from -x url=...
        url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
        with create_engine(url).connect() as connection:
            _migrate(connection)
            connection.commit()
        return
    _migrate(connection)


def _migrate(connection) -> None:
    context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
