"""WSGI entry point for gunicorn: `gunicorn -k gthread registry.wsgi:app` (config from env/file)."""
from registry.app import create_app
from registry.process import prepare_serving_process

app = create_app()
prepare_serving_process()
