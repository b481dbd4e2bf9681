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


def _instruction(name: str) -> list[str]:
    """An exec-form instruction's argv (HEALTHCHECK's continues on the next line)."""
    import json

    lines = (ROOT / "Dockerfile").read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith(name + " "):
            text = line if not line.endswith("\\") else lines[number + 1]
            return json.loads(text[text.index("["):])
    raise AssertionError(f"no {name} in the Dockerfile")


def test_the_image_command_and_health_check_follow_the_configured_port(tmp_path):
    from tests.e2e.conftest import free_port, running

    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {"MODELYARD_SERVER_PORT": str(port), "MODELYARD_SERVER_THREADS": "3",
           "MODELYARD_SERVER_DATA_DIR": str(tmp_path / "data"), "MODELYARD_CONFIG": "",
           "DATABASE_URL": "", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with running(_instruction("CMD"), f"http://127.0.0.1:{port}", env=env):
        check = _instruction("HEALTHCHECK")
        healthy = subprocess.run([sys.executable, *check[1:]], env={**os.environ, **env},
                                 timeout=30)
        assert healthy.returncode == 0


def test_serve_hands_threads_workers_and_limits_to_gunicorn():
    from registry.buffered_worker import BufferingWorker
    from registry.config import load_config
    from registry.server import _Server

    config = load_config({"server": {"threads": 3, "workers": 2, "request_timeout_s": 7}},
                         environ={})
    cfg = _Server(config).cfg
    assert (cfg.threads, cfg.workers) == (3, 2)
    assert issubclass(cfg.worker_class, BufferingWorker)
    assert cfg.worker_class.request_timeout_s == 7
    assert cfg.control_socket_disable and cfg.limit_request_line == 0


def test_serve_runs_a_worker_process_per_core_by_default():
    from registry.config import load_config
    from registry.server import MAX_AUTO_WORKERS, _Server

    config = load_config({}, environ={})
    assert config["server"]["workers"] == 0
    assert _Server(config).cfg.workers == min(os.cpu_count(), MAX_AUTO_WORKERS)
