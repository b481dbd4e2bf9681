"""WSGI entry point for gunicorn: `gunicorn -k gthread registry.wsgi:app` (config from env/file)."""
import gc

from registry.app import create_app

app = create_app()
# The app's long-lived objects (routes, schemas, the OpenAPI spec) never become garbage; moving
# them out of the collector's view keeps full collections from pausing requests.
gc.collect()
gc.freeze()
