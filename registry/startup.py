"""The one way every entry point opens the registry: the app factory, `serve`, `worker` and the
command line's database commands all call `open_registry`, so they resolve the same database
(flags, MODELYARD_CONFIG, environment, defaults) and none forgets a step."""
from __future__ import annotations

from registry.config import redact_url
from registry.db import database, database_url, open_database, sqlite_path
from registry.migrate import MIGRATION_TABLE, upgrade
from registry.services import criteria
from registry.storage import ArtifactStore, open_store


class RegistryMissing(Exception):
    """The configured database does not exist yet; the message names where it was looked for."""


def _require_existing(config: dict) -> None:
    path = sqlite_path(config)
    if path is not None:
        if not path.exists():
            raise RegistryMissing(
                f"no Modelyard database at {path}. Run this where the server runs, or point "
                "--data-dir, MODELYARD_SERVER_DATA_DIR, MODELYARD_CONFIG or DATABASE_URL at its "
                "database; `modelyard serve` or `modelyard db upgrade` creates a new one.")
        return
    with database.connection_context():
        if not database.table_exists(MIGRATION_TABLE):
            raise RegistryMissing(f"the database {redact_url(database_url(config))} has no "
                                  "Modelyard schema; "
                                  "`modelyard db upgrade` creates it.")


def open_registry(config: dict, *, create: bool = False,
                  migrate: bool | None = None) -> ArtifactStore:
    """Bind the database, install the config's default criteria, upgrade the schema when
    `migrate` (default: `server.auto_migrate`) and open the artifact store.

    Without `create`, raises RegistryMissing rather than create a database that does not exist
    (only `serve`, the app factory and `db upgrade` create one).
    """
    open_database(config)
    if not create:
        _require_existing(config)
    criteria.use_defaults(config["criteria"])
    if config["server"]["auto_migrate"] if migrate is None else migrate:
        with database.connection_context():
            upgrade()
    return open_store(config)
