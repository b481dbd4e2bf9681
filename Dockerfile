# Modelyard API server (`modelyard serve`) on the embedded SQLite default, data in /data.
# Point DATABASE_URL at PostgreSQL to run several replicas on one database (docs/deploy.md).
# Port, threads and worker processes come from MODELYARD_SERVER_PORT, _THREADS and _WORKERS.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 modelyard \
 && mkdir -p /data && chown modelyard /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY registry ./registry
COPY webhooks ./webhooks
COPY config ./config
RUN pip install --no-cache-dir -e .

USER modelyard
ENV MODELYARD_SERVER_DATA_DIR=/data \
    MODELYARD_SERVER_HOST=0.0.0.0 \
    MODELYARD_SERVER_PORT=8080 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('MODELYARD_SERVER_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status == 200 else 1)"]
# Migrations run once here, under their lock, before the server starts.
CMD ["sh", "-c", "modelyard db upgrade && exec modelyard serve"]
