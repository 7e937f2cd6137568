"""Tests never touch the real user's settings or data, in this process or in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from platformdirs import PlatformDirs

from desktop_app import APP_AUTHOR, APP_NAME
from desktop_app.core.locations import user_data_dir
from desktop_app.ui.settings import Settings
from tests.conftest import REPO_ROOT

# Where the real user's settings live when nothing is isolated (HOME is not redirected).
_REAL_CONFIG = Path.home() / ".config" / APP_AUTHOR / f"{APP_NAME}.conf"


def _user_root() -> Path:
    """The run's throw-away user folder (tests/conftest.py points XDG_* into it)."""
    root = Path(os.environ["XDG_CONFIG_HOME"]).parent
    assert root.is_relative_to(Path(tempfile.gettempdir()))
    return root


def _platformdirs_folders() -> list[Path]:
    dirs = PlatformDirs(APP_NAME, APP_AUTHOR)
    return [Path(p) for p in (dirs.user_config_dir, dirs.user_data_dir, dirs.user_cache_dir,
                              dirs.user_state_dir, dirs.user_log_dir)]


def _stamp(path: Path) -> tuple[int, int] | None:
    return (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None


def test_qsettings_and_platformdirs_resolve_into_temporary_folders(
        isolated_settings: Path, isolated_user_data: Path) -> None:
    from desktop_app.ui.application import create_application

    assert Path(Settings().file_name).is_relative_to(isolated_settings)
    # The app's own setup (its organisation and application names) changes nothing.
    create_application()
    assert Path(Settings().file_name).is_relative_to(isolated_settings)
    root = _user_root()
    for folder in _platformdirs_folders():
        assert folder.is_relative_to(root), folder
    assert user_data_dir() == isolated_user_data


def test_a_window_writes_only_the_temporary_settings(
        qtbot, make_window, isolated_settings: Path, tmp_path: Path) -> None:
    before = _stamp(_REAL_CONFIG)
    window = make_window(wait_model=False)
    window.opening.open_paths([tmp_path])  # an empty folder: goes into the recent list
    window.close()  # saves geometry and splitters
    store = Settings()
    store.sync()
    assert Path(store.file_name).is_file()
    assert Path(store.file_name).is_relative_to(isolated_settings)
    assert str(tmp_path) in store.recent_files()
    assert _stamp(_REAL_CONFIG) == before


def test_subprocesses_resolve_settings_and_data_into_the_temporary_folder() -> None:
    code = (
        "import json\n"
        "from platformdirs import PlatformDirs\n"
        "from desktop_app import APP_AUTHOR, APP_NAME\n"
        "from desktop_app.core.locations import user_data_dir\n"
        "from desktop_app.ui.application import create_application\n"
        "from desktop_app.ui.settings import Settings\n"
        "create_application()\n"
        "dirs = PlatformDirs(APP_NAME, APP_AUTHOR)\n"
        "print(json.dumps({'settings': Settings().file_name, 'data': str(user_data_dir()),\n"
        "                  'config': dirs.user_config_dir, 'cache': dirs.user_cache_dir,\n"
        "                  'state': dirs.user_state_dir}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=dict(os.environ),
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    folders = json.loads(completed.stdout.strip().splitlines()[-1])
    root = _user_root()
    assert Path(folders["settings"]).is_relative_to(root / "xdg_config_home")
    assert Path(folders["data"]) == Path(os.environ["LUNGLENS_DATA_DIR"])
    for key in ("config", "cache", "state"):
        assert Path(folders[key]).is_relative_to(root), (key, folders[key])


def test_the_temporary_user_folder_is_removed_when_the_run_ends(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    report = tmp_path / "user-folder.txt"
    probe.write_text(
        "import os\nfrom pathlib import Path\n\n\ndef test_probe():\n"
        "    folder = Path(os.environ['XDG_CONFIG_HOME']).parent\n"
        "    assert folder.is_dir()\n"
        "    Path(os.environ['PROBE_REPORT']).write_text(str(folder))\n",
        encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(probe)],
        cwd=REPO_ROOT, env={**os.environ, "PROBE_REPORT": str(report)},
        capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    inner = Path(report.read_text(encoding="utf-8"))
    assert inner != _user_root()  # the inner run made its own throw-away folder
    assert inner.name.startswith("lunglens-tests-user-")
    assert not inner.exists()
