"""The image holds everything the service imports: the Dockerfile's COPY lines, replayed into an
empty folder, are enough to build the app and answer /healthz (the image once lacked webhooks/)."""
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _replay_copies(app_dir: Path) -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, destination = line.split()[1:]
        for source in sources:
            target = app_dir / destination
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, target)


def test_the_files_the_image_copies_are_enough_to_serve(tmp_path):
    app_dir = tmp_path / "app"
    _replay_copies(app_dir)
    # -S: no site hooks, so the checkout's editable install cannot fill in what the image lacks
    env = {**os.environ, "PYTHONPATH": f"{app_dir}{os.pathsep}{sysconfig.get_paths()['purelib']}",
           "MODELYARD_SERVER_DATA_DIR": str(tmp_path / "data"), "MODELYARD_CONFIG": "",
           "DATABASE_URL": ""}
    code = ("import registry, webhooks; from registry.app import create_app; "
            "assert create_app().test_client().get('/healthz').status_code == 200; "
            "print(registry.__file__, webhooks.__file__)")
    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=app_dir, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert all(path.startswith(str(app_dir)) for path in result.stdout.split())
