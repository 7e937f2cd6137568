"""One rule picks the model: ``--model``, else ``$LUNGLENS_MODEL_DIR``, else the store's.

Every command and the window resolve it through
:func:`desktop_app.core.cli.model_choice.resolve_model`; the first test runs each command with
the variable naming a missing folder and checks that each one tried to load that folder.
"""

from __future__ import annotations

import io
import signal
from pathlib import Path

import pytest

from desktop_app.core.cli.calibrate_cli import run_calibrate
from desktop_app.core.cli.classify_cli import run_classify
from desktop_app.core.cli.model_choice import MODEL_DIR_ENV, model_override, resolve_model
from desktop_app.core.cli.self_test import run_self_test
from desktop_app.core.cli.serve_cli import run_serve
from desktop_app.core.cli.validate_cli import run_validate
from desktop_app.core.errors import ModelBundleError
from desktop_app.core.locations import bundled_model_dir


def test_every_command_honours_the_environment_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "model-from-environment"
    monkeypatch.setenv(MODEL_DIR_ENV, str(missing))
    film = tmp_path / "film.png"
    film.write_bytes(b"not read: the model is loaded first")
    runs = {
        "classify": lambda out, err: run_classify([str(film)], out, err),
        "validate": lambda out, err: run_validate(["--data", str(tmp_path)], out, err),
        "calibrate": lambda out, err: run_calibrate(
            ["--data", str(tmp_path), "--out", str(tmp_path / "out")], out, err),
        "serve": lambda out, err: run_serve(
            ["--no-listen", "--data-dir", str(tmp_path / "data")], err),
        "--self-test": lambda out, err: run_self_test(out),
    }
    # serve installs its own SIGINT and SIGTERM handlers: give pytest's back afterwards.
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for command, run in runs.items():
        out, err = io.StringIO(), io.StringIO()
        try:
            status = run(out, err)
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)
        said = out.getvalue() + err.getvalue()
        assert status == 1, f"{command}: exit {status}\n{said}"
        assert str(missing) in said, f"{command} did not try the environment's model:\n{said}"


def test_the_option_wins_over_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "elsewhere"))
    assert model_override(bundled_model_dir()) == bundled_model_dir()
    active = resolve_model(bundled_model_dir())
    assert active.key == "override"
    assert active.bundle.path == bundled_model_dir()
    with pytest.raises(ModelBundleError, match="elsewhere"):
        resolve_model()


def test_without_an_override_the_store_or_the_bundled_model_is_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    assert model_override(None) is None
    assert resolve_model().key == "bundled"  # a fresh store's active model
    assert resolve_model(fallback="bundled").bundle.path == bundled_model_dir()
