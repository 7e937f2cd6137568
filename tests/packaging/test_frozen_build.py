"""Smoke test of the frozen application: build it with PyInstaller, then run what it shipped.

Opt-in (``LUNGLENS_BUILD_TEST=1``) and marked ``slow``: the classify-only build takes about
half a minute of PyInstaller on two cores, the full build (TensorFlow) two to eight minutes. The
test builds into a clean temporary dist/work folder with a tiny generated model bundle
(``LUNGLENS_MODEL_SOURCE``), so it never depends on, or touches, ``resources/model`` or
``dist/``.

Resources are checked by *using* them: the frozen ``--self-test`` loads the bundled model
(sha256 verified) and classifies generated images, ``classify --json`` must return the same
probabilities as the source tree, ``validate --json --report`` must measure a generated
labelled folder as the source tree does and write its PDF (reportlab shipped, no TensorFlow
or pandas needed), ``calibrate`` must write a bundle the build then classifies with (the
shipped non-chest check set included), the GUI must show its window (Qt plugins present),
and the bundled icon is decoded.

Knobs: ``LUNGLENS_BUILD_TEST_VARIANT=full`` tests the full build instead;
``LUNGLENS_BUILD_TEST_DIST=/path/to/LungLens-classify`` tests an existing build (no rebuild).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.cli.classify_cli import run_classify
from desktop_app.core.gate import load_check_set
from desktop_app.core.model.model_bundle import load_bundle

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_ENV = "LUNGLENS_BUILD_TEST"
VARIANT = os.environ.get("LUNGLENS_BUILD_TEST_VARIANT", "classify")
EXISTING_DIST = os.environ.get("LUNGLENS_BUILD_TEST_DIST")
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
# Regression guards (MB = 10**6 bytes, one-folder, Linux, stripped). classify: the 250 MB
# target. full: the 900 MB target is not reachable with TensorFlow 2.21 (its runtime library
# alone is 583 MB stripped; see docs/packaging.md), so this guards the measured 980 MB.
SIZE_BUDGET_MB = {"classify": 250, "full": 1000}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get(BUILD_ENV) != "1" and not EXISTING_DIST,
                       reason=f"builds the app with PyInstaller (minutes): set {BUILD_ENV}=1"),
]


def _frozen_env() -> dict[str, str]:
    """The environment for the frozen app: no model override, offscreen Qt."""
    env = dict(os.environ)
    env.pop("LUNGLENS_MODEL_DIR", None)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


@pytest.fixture(scope="module")
def frozen_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The built one-folder app (built once for the module, deleted afterwards)."""
    if EXISTING_DIST:
        yield Path(EXISTING_DIST)
        return
    if shutil.which("pyinstaller", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("PyInstaller is not installed: pip install -e '.[build]'")
    from tests.tiny_model import build_tiny_bundle

    root = tmp_path_factory.mktemp("frozen")
    model = build_tiny_bundle(root / "model")
    env = {**os.environ, "LUNGLENS_VARIANT": VARIANT, "LUNGLENS_MODEL_SOURCE": str(model)}
    command = [str(Path(sys.executable).with_name("pyinstaller")), "--noconfirm", "--clean",
               "--log-level", "WARN", "--distpath", str(root / "dist"),
               "--workpath", str(root / "work"), str(REPO_ROOT / "build.spec")]
    if shutil.which("nice"):
        command = ["nice", "-n", "19", *command]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=3600)
    assert done.returncode == 0, f"PyInstaller failed:\n{done.stderr[-4000:]}"
    name = "LungLens" if VARIANT == "full" else "LungLens-classify"
    yield root / "dist" / name
    shutil.rmtree(root, ignore_errors=True)


def _exe(folder: Path, name: str) -> str:
    return str(folder / f"{name}{EXE_SUFFIX}")


def test_frozen_self_test_passes(frozen_dir: Path) -> None:
    done = subprocess.run([_exe(frozen_dir, "lunglens-cli"), "--self-test"],
                          capture_output=True, text=True, env=_frozen_env(), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SELF-TEST PASSED" in done.stdout
    if VARIANT == "full":
        assert "TRAINING SELF-TEST PASSED" in done.stdout, done.stdout
    else:
        # The classify-only build must really lack TensorFlow, and say so.
        assert "training stack: not in this build" in done.stdout, done.stdout


def test_frozen_classify_json_matches_source(frozen_dir: Path, tmp_path: Path) -> None:
    image = tmp_path / "generated radiograph.png"  # a space: paths are passed through intact
    Image.fromarray(synthetic_radiograph(seed=7)).save(image)
    done = subprocess.run([_exe(frozen_dir, "lunglens-cli"), "classify", "--json", str(image)],
                          capture_output=True, text=True, env=_frozen_env(), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    record = json.loads(lines[0])

    bundle = load_bundle(frozen_dir / "_internal" / "resources" / "model")
    assert record["ok"] is True
    assert Path(record["path"]) == image
    assert record["model"] == bundle.model_id
    assert list(record["probabilities"]) == list(bundle.card.classes)
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert record["label"] in bundle.card.classes
    assert record["out_of_distribution"] is False

    # The frozen app must compute what the source tree computes with the same model.
    class _Capture:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    captured = _Capture()
    code = run_classify(["--json", "--model", str(bundle.path), str(image)], stdout=captured,
                        stderr=_Capture())
    assert code == 0
    source = json.loads(captured.text.strip().splitlines()[0])
    assert source["label"] == record["label"]
    np.testing.assert_allclose(list(record["probabilities"].values()),
                               list(source["probabilities"].values()), atol=1e-5)


def test_frozen_validate_json_matches_source(frozen_dir: Path, tmp_path: Path,
                                             isolated_user_data: Path) -> None:
    """``validate`` runs in the build (no TensorFlow, no pandas) and measures what source does."""
    from desktop_app.core.validation.validation import validate

    data = tmp_path / "labelled films"
    for number, folder in enumerate(("NORMAL", "PNEUMONIA", "COVID-19")):
        (data / folder).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(synthetic_radiograph(seed=20 + 2 * number + i)).save(
                data / folder / f"film{i}.png")
    report = tmp_path / "validation.pdf"
    done = subprocess.run([_exe(frozen_dir, "lunglens-cli"), "validate", "--json", "--data",
                           str(data), "--bootstrap", "50", "--report", str(report)],
                          capture_output=True, text=True, env=_frozen_env(), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads(done.stdout)
    bundle = load_bundle(frozen_dir / "_internal" / "resources" / "model")
    assert record["model_id"] == bundle.model_id
    assert record["metrics"]["counts"]["validated"] == 6
    assert Path(record["stored"]["record"]).is_relative_to(isolated_user_data)
    assert Path(record["stored"]["record"]).is_file()
    assert report.read_bytes().startswith(b"%PDF")
    assert report.with_suffix(".csv").is_file()

    source = validate(data, bundle, bootstrap_rounds=50, store=False)
    assert source is not None
    assert record["data_fingerprint"] == source.fingerprint
    assert record["metrics"]["confusion_matrix"] == source.metrics["confusion_matrix"]
    assert record["metrics"]["counts"] == source.metrics["counts"]


def test_frozen_calibrate_writes_a_bundle_the_build_classifies_with(
        frozen_dir: Path, tmp_path: Path, isolated_user_data: Path) -> None:
    """``calibrate`` runs in the build (no TensorFlow) and its bundle loads and classifies."""
    from tests.image_factory import synthetic_cxr

    data = tmp_path / "site films"
    for offset, folder in enumerate(("NORMAL", "PNEUMONIA", "COVID-19")):
        (data / folder).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(synthetic_cxr(seed=1000 * offset + i)).save(
                data / folder / f"film{i}.png")
    out = tmp_path / "calibrated"
    done = subprocess.run([_exe(frozen_dir, "lunglens-cli"), "calibrate", "--json", "--data",
                           str(data), "--out", str(out), "--site", "Ward 3"],
                          capture_output=True, text=True, env=_frozen_env(), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads(done.stdout)
    assert record["site_calibration"]["site"] == "Ward 3"
    assert load_bundle(out).card.site_calibration["films"]["used"] == 36
    image = next(data.rglob("*.png"))
    done = subprocess.run([_exe(frozen_dir, "lunglens-cli"), "classify", "--json", "--model",
                           str(out), str(image)],
                          capture_output=True, text=True, env=_frozen_env(), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[0])["model"] == record["model_id"]


def test_frozen_gui_shows_window(frozen_dir: Path) -> None:
    env = {**_frozen_env(), "LUNGLENS_STARTUP_PROBE": "1"}
    done = subprocess.run([_exe(frozen_dir, "LungLens")], capture_output=True, text=True,
                          env=env, timeout=180)
    probe = [line for line in done.stderr.splitlines() if line.startswith("LUNGLENS_STARTUP ")]
    assert done.returncode == 0, done.stderr[-4000:]
    assert probe, f"no startup probe output:\n{done.stderr[-4000:]}"
    assert "window_shown=" in probe[0]
    assert "model_loaded=" in probe[0]


def test_bundled_icon_decodes(frozen_dir: Path) -> None:
    with Image.open(frozen_dir / "_internal" / "resources" / "icons" / "lunglens.png") as icon:
        icon.load()
        assert icon.size == (256, 256)


def test_bundled_check_set_verifies(frozen_dir: Path) -> None:
    """Both variants ship the non-chest check set, every file intact (site calibration)."""
    cases = load_check_set(frozen_dir / "_internal" / "resources" / "non_chest_check")
    assert {case.held_out for case in cases} == {False, True}


def test_build_within_size_budget(frozen_dir: Path) -> None:
    total = sum(p.lstat().st_size for p in frozen_dir.rglob("*") if not p.is_dir())
    assert total / 1e6 <= SIZE_BUDGET_MB[VARIANT], f"{total / 1e6:.0f} MB"
