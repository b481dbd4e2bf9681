"""Names the API accepts: model names, metric/param/tag keys (usable as `metrics.<key>`), and
the registries a move may be imported from."""
from __future__ import annotations

import re

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
KEY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$")

IMPORT_SOURCE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
