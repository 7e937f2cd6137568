"""Which process of a multi-worker run writes, from ``TF_CONFIG`` (no TensorFlow needed)."""

from __future__ import annotations

import json

import pytest

from model_training.workers import is_chief, worker_name


def _config(kind: str, index: int, *, chief: bool = False) -> str:
    cluster: dict[str, list[str]] = {"worker": ["a:1", "b:1"]}
    if chief:
        cluster["chief"] = ["c:1"]
    return json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})


def test_worker_zero_is_chief_without_a_chief_task() -> None:
    assert is_chief(_config("worker", 0))
    assert not is_chief(_config("worker", 1))
    assert worker_name(_config("worker", 1)) == "worker 1"


def test_a_chief_task_is_the_only_chief() -> None:
    assert is_chief(_config("chief", 0, chief=True))
    assert not is_chief(_config("worker", 0, chief=True))


def test_without_tf_config_the_process_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief()
    assert worker_name() == "single process"
    monkeypatch.setenv("TF_CONFIG", _config("worker", 1))
    assert not is_chief()


def test_bad_tf_config_is_quoted() -> None:
    with pytest.raises(ValueError, match=r"TF_CONFIG is not JSON .*Received: '\{worker'"):
        is_chief("{worker")
    with pytest.raises(ValueError, match=r"must be a JSON object\. Received: '\[1\]'"):
        is_chief("[1]")
