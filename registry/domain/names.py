"""Names the API accepts."""
from __future__ import annotations

import re

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
KEY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$")


def is_model_name(name: str) -> bool:
    return bool(MODEL_NAME.match(name))


def is_key_name(name: str) -> bool:
    """Metric, param and tag keys: usable in filters as `metrics.<key>`."""
    return bool(KEY_NAME.match(name))
