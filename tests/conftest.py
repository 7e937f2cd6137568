"""Shared fixtures: isolated user data, Qt offscreen, real-data lookup, a tiny model bundle."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Qt must not look for a display in tests (set before any Qt import).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Per-user folders (Qt's native settings, platformdirs) point into a throw-away folder for the
# whole run, subprocesses included, so no test can touch the real user's settings or data
# even where a fixture forgets to isolate them.
_USER_FOLDERS = Path(tempfile.mkdtemp(prefix="lunglens-tests-user-"))
for _variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
    os.environ[_variable] = str(_USER_FOLDERS / _variable.lower())
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the throw-away user folders when the run ends (they piled up in /tmp)."""
    shutil.rmtree(_USER_FOLDERS, ignore_errors=True)


REPO_ROOT = Path(__file__).resolve().parents[1]
CXR_DATA_ENV = "LUNGLENS_CXR_DATA"


def find_cxr_data() -> Path | None:
    """The real chest X-ray folder: ``$LUNGLENS_CXR_DATA`` or ``../shared/datasets/cxr``."""
    candidates = [os.environ.get(CXR_DATA_ENV), REPO_ROOT.parent / "shared" / "datasets" / "cxr"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "metadata.csv").is_file():
            return Path(candidate)
    return None


@pytest.fixture
def cxr_data_dir() -> Path:
    """Path of the real dataset; skips the test with the reason when it is absent."""
    found = find_cxr_data()
    if found is None:
        pytest.skip(
            f"real chest X-rays not found: set {CXR_DATA_ENV} or place the dataset at "
            f"{REPO_ROOT.parent / 'shared' / 'datasets' / 'cxr'}"
        )
    return found


@pytest.fixture(autouse=True)
def isolated_user_data(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point LungLens' per-user data folder at a temporary one for every test."""
    folder = tmp_path_factory.mktemp("user-data")
    monkeypatch.setenv("LUNGLENS_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, verified model bundle with a tiny untrained CNN (input 32 px).

    Built once per session with TensorFlow (about 10 s); the tests that use it exercise the
    real LiteRT classify path, not a mock.
    """
    from tests.tiny_model import build_tiny_bundle

    return build_tiny_bundle(tmp_path_factory.mktemp("tiny-bundle") / "model")


@pytest.fixture(scope="session")
def tiny_lung_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like ``tiny_bundle``, with the input framed on the lungs by the shipped segmenter."""
    from tests.tiny_model import build_tiny_bundle

    return build_tiny_bundle(tmp_path_factory.mktemp("tiny-lung-bundle") / "model",
                             seed=1, region="lungs")


@pytest.fixture(scope="session")
def tiny_caution_bundle(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_bundle`` whose feature check cautions about every film it used to pass.

    The usual feature limit is moved next to zero and its old value becomes the refusal
    limit (``ood.refusal_limits.features``): generated radiographs land between the two and
    are labelled with a caution; colour photos are still refused by the image checks.
    """
    from tests.tiny_model import with_card_changes

    def widen(card: dict) -> None:
        card["ood"]["refusal_limits"] = {"features": card["ood"]["distance_threshold"]}
        card["ood"]["distance_threshold"] = 1e-6

    return with_card_changes(tiny_bundle, tmp_path_factory.mktemp("tiny-caution") / "model",
                             widen)


@pytest.fixture(scope="session")
def tiny_age_bundle(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_bundle`` with thresholds per age group that make the age visible in the label.

    Children: COVID-19 from 1 % (every child film is labelled COVID-19); adults: no finding
    threshold can be reached below 100 %, so an adult film gets its most probable class;
    unknown age: the tiny model's own top-level thresholds.
    """
    from tests.tiny_model import with_card_changes

    def by_age(card: dict) -> None:
        card["decision"]["by_age_group"] = {
            "child": {"thresholds": {"COVID-19": 0.01}},
            "adult": {"thresholds": {"COVID-19": 1.0, "Pneumonia": 1.0}}}

    return with_card_changes(tiny_bundle, tmp_path_factory.mktemp("tiny-age") / "model",
                             by_age)
