"""``--strategy multi-worker`` on two worker processes on this machine.

Two ``python -m model_training train`` processes, one ``TF_CONFIG`` each (a cluster of two
workers on free localhost ports), train one short epoch on 24 generated films at 32 px. Both
must finish with the same weights (each prints its weights' sha256) and only the chief
(worker 0) writes: its ``--out`` holds the run folder and the card, worker 1's stays absent.
On failure the message carries the end of both workers' output, i.e. what TensorFlow said.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 420  # about a minute on an idle 2-core machine; TF import alone is ~7 s


def _free_ports(count: int) -> list[int]:
    """Ports free now (held open together so they differ, then released for TensorFlow)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(text: str, lines: int = 25) -> str:
    kept = [line for line in text.splitlines() if not re.match(r"^[IW]0000 ", line)]
    return "\n".join(kept[-lines:])


@pytest.mark.slow
def test_two_workers_train_the_same_model_and_only_the_chief_writes(tmp_path: Path) -> None:
    from desktop_app.core.model.model_card import CARD_FILE
    from tests.training.conftest import write_metadata_dataset

    data = write_metadata_dataset(tmp_path / "data")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    processes = []
    started = time.monotonic()
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}),
            CUDA_VISIBLE_DEVICES="-1", PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "model_training", "train", "--data", str(data),
                   "--out", str(tmp_path / f"out{index}"), "--strategy", "multi-worker",
                   "--input-size", "32", "--width", "0.25", "--epochs", "1",
                   "--batch-size", "4", "--seed", "0",
                   "--cache-dir", str(tmp_path / f"cache{index}")]
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=max(1.0, TIMEOUT_S - (
                time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            out, err = process.communicate()
            pytest.fail(f"a worker did not finish within {TIMEOUT_S} s:\n{_tail(err)}")
        outputs.append((process.returncode, out + err))
    report = "\n\n".join(f"worker {i} (exit {code}):\n{_tail(text)}"
                         for i, (code, text) in enumerate(outputs))
    assert [code for code, _ in outputs] == [0, 0], report
    digests = [re.findall(r"worker \d: weights sha256 ([0-9a-f]{64})", text)
               for _, text in outputs]
    assert all(len(found) == 1 for found in digests), report
    assert digests[0] == digests[1], report

    chief, other = tmp_path / "out0", tmp_path / "out1"
    assert (chief / "run" / "model.keras").is_file()
    card = json.loads((chief / CARD_FILE).read_text(encoding="utf-8"))
    assert card["training_config"]["strategy"] == "multi-worker"
    assert not other.exists(), sorted(str(p) for p in other.rglob("*"))
    assert "the chief writes the run folder and the bundle" in outputs[1][1]

    # What the chief saved is the model both workers agree on.
    import keras

    from model_training.workers import weights_sha256

    saved = keras.saving.load_model(chief / "run" / "model.keras", compile=False)
    assert weights_sha256(saved) == digests[0][0]
