"""UI test fixtures: isolated QSettings, generated images, a main window on the tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6 import QtCore

from tests.ui.images import write_xray


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point QSettings at a temporary INI file so tests never touch the user's settings."""
    folder = tmp_path_factory.mktemp("settings")
    QtCore.QCoreApplication.setOrganizationName("LungLensTests")
    QtCore.QCoreApplication.setApplicationName("LungLensTests")
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat,
                             QtCore.QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def xray_folder(tmp_path: Path) -> Path:
    """A folder with three generated X-rays (one in a subfolder) and a non-image file."""
    folder = tmp_path / "films"
    write_xray(folder / "a.png", seed=1)
    write_xray(folder / "b.png", seed=2)
    write_xray(folder / "sub" / "c.png", seed=3)
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    return folder


@pytest.fixture
def make_window(qtbot, tiny_bundle: Path):
    """Factory for a shown main window using the tiny test model (closed at teardown)."""
    from desktop_app.ui.main_window import MainWindow

    windows = []

    def factory(*, model_dir: Path | str | None = tiny_bundle, wait_model: bool = True):
        window = MainWindow(model_dir=model_dir)
        qtbot.addWidget(window)
        windows.append(window)
        if wait_model:
            with qtbot.waitSignal(window.model_loaded, timeout=30_000):
                window.show()
        else:
            window.show()
        return window

    yield factory
    for window in windows:
        window.close()


@pytest.fixture(scope="session")
def calibrated_bundle(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_bundle`` calibrated by the real core to generated site films, written out."""
    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.core.site.site_calibration import CalibrationSettings, calibrate_site
    from tests.ui.calibration_films import write_check_set, write_site_films

    root = tmp_path_factory.mktemp("calibrated")
    result = calibrate_site(write_site_films(root / "films"), load_bundle(tiny_bundle),
                            CalibrationSettings("Test Clinic"),
                            check_set=write_check_set(root / "checks"))
    assert result is not None
    return result.write_bundle(root / "model").path
