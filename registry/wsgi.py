"""WSGI entry point for gunicorn: `gunicorn -k gthread registry.wsgi:app` (config from env/file)."""
from registry.app import create_app

app = create_app()
