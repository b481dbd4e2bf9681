"""Running the app under gunicorn (gthread) from `modelyard serve`."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

from registry.app import create_app
from registry.db import database, open_database
from registry.migrate import upgrade
from registry.process import prepare_serving_process
from registry.worker import start_in_background
from webhooks.dispatcher import Dispatcher


class _Server(BaseApplication):
    def __init__(self, config: dict) -> None:
        self.modelyard_config = config
        super().__init__()

    def load_config(self) -> None:
        server = self.modelyard_config["server"]
        settings = {"bind": f"{server['host']}:{server['port']}", "worker_class": "gthread",
                    "workers": 1, "threads": server["threads"], "accesslog": "-",
                    "timeout": 120, "graceful_timeout": 30}
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        app = create_app(config=self.modelyard_config)
        if self.modelyard_config["webhook"]["dispatch_in_serve"]:  # single node: one worker
            Dispatcher(app.extensions["modelyard_webhooks"]).start()
        if self.modelyard_config["schedule"]["run_in_serve"]:
            start_in_background(self.modelyard_config, app.extensions["modelyard_store"])
        prepare_serving_process()
        return app


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def run_server(config: dict) -> None:
    """Create the data folder and schema, then serve until stopped. Without auth, only on
    loopback: raises SystemExit for any other address."""
    if not config["auth"]["enabled"] and config["server"]["host"] not in LOOPBACK:
        raise SystemExit(f"modelyard: auth.enabled is false, so the server will only listen on "
                         f"loopback, not on {config['server']['host']}")
    if config["server"]["auto_migrate"]:
        open_database(config)
        with database.connection_context():
            upgrade()
    _Server(config).run()
