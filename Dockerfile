# Modelyard API server: gunicorn (gthread) on the embedded SQLite default, data in /data.
# Point DATABASE_URL at PostgreSQL to run several replicas on one database.
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
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
# Migrations run once here, under their lock, before workers fork.
CMD ["sh", "-c", "modelyard db upgrade && exec gunicorn -k gthread -w 2 --threads 4 --reuse-port -b 0.0.0.0:8080 --access-logfile - registry.wsgi:app"]
