"""The ceiling of this stack: a bare Flask endpoint returning a constant, served by the same
gunicorn settings as Modelyard (see benchlib.server)."""
from flask import Flask, jsonify

app = Flask(__name__)
BODY = {"model": "m", "stage": "production", "version": 1}


@app.get("/healthz")
def healthz():
    return jsonify(BODY)
