"""Results back to the PACS, measured against Orthanc (part of benchmarks/dicom_node.py).

Orthanc (Debian's ``orthanc``) runs on free ports with a temporary storage, as in the tests
(``tests/orthanc_peer.py``); ``serve --send-to`` sends to it; what Orthanc holds is read back
over its REST API and compared with ``worklist --json``:

* **send**: the films pushed over 4 associations; counted per film: its SR in Orthanc
  (exactly one SR in the film's study), its SC when it was labelled (at most one), the
  answer in the SR's text equal to the worklist's. The time from the first push to the
  last result sent, against ``classify`` on the same files in the same run.
* **send-kill**: ``serve`` killed with SIGKILL once some results are sent and others are
  not, then restarted; counted: results the worklist owes that Orthanc lacks.
* **send-down**: Orthanc not running while the first half of the films is pushed, started
  before the second half; counted: results missing once the outbox is empty, and the time
  from Orthanc's start to the last result sent.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager
from io import BytesIO
from pathlib import Path

import pydicom

from benchmarks.node_serve import (
    Serve,
    classify_seconds,
    send_states,
    sent_rows,
    wait_answered,
    wait_sent,
    worklist_records,
)
from tests.dicom_films import push_concurrently
from tests.orthanc_peer import Orthanc, orthanc
from tests.storage_peer import SECONDARY_CAPTURE, SR_3D, free_port

ANSWER_PREFIX = "LungLens answer: "


def expected_answer(record: dict) -> str:
    """The answer a film's SR must carry, from its ``worklist --json`` record."""
    if not record.get("ok", False):
        return f"Not analysed: could not be read ({record.get('error')})"
    if record.get("out_of_distribution"):
        reason = record.get("ood_reason") or "outside what the model was trained on"
        return f"Not labelled: {reason}"
    return str(record["label"])


def _sr_answer(dataset: pydicom.Dataset) -> str | None:
    """The "LungLens answer: ..." text of an SR, wherever it sits in the content tree."""
    items = list(dataset.get("ContentSequence", []))
    while items:
        item = items.pop()
        text = str(item.get("TextValue", ""))
        if item.get("ValueType") == "TEXT" and text.startswith(ANSWER_PREFIX):
            return text[len(ANSWER_PREFIX):]
        items.extend(item.get("ContentSequence", []))
    return None


def check_in_orthanc(pacs: Orthanc, records: Sequence[dict], studies: dict[str, str]
                     ) -> dict[str, int]:
    """Per film: its results in Orthanc, their number, the SR's answer against the worklist.

    ``studies`` maps each film's SOP Instance UID to its Study Instance UID.
    """
    stored = pacs.instances()
    by_study: dict[str, Counter[str]] = {}
    by_uid = {tags["SOPInstanceUID"]: tags for tags in stored}
    for tags in stored:
        by_study.setdefault(tags["StudyInstanceUID"], Counter())[tags["SOPClassUID"]] += 1
    tally = Counter(films=len(records))
    for record in records:
        owed = record.get("result_uids") or []
        labelled = record.get("label") is not None
        counts = by_study.get(studies[record["sop_instance_uid"]], Counter())
        complete = bool(owed) and all(uid in by_uid for uid in owed) and (
            counts[SR_3D] >= 1 and (counts[SECONDARY_CAPTURE] >= 1 or not labelled))
        tally["complete"] += complete
        tally["one_sr"] += counts[SR_3D] == 1
        tally["at_most_one_sc"] += counts[SECONDARY_CAPTURE] <= 1
        tally["missing"] += sum(uid not in by_uid for uid in owed)
        tally["owed"] += len(owed)
        if owed and owed[0] in by_uid:
            sr = pydicom.dcmread(BytesIO(pacs.file(by_uid[owed[0]]["id"])))
            tally["answer_equal"] += _sr_answer(sr) == expected_answer(record)
    return dict(tally)


def _pacs(folder: Path, dicom_port: int | None = None) -> AbstractContextManager[Orthanc]:
    """Orthanc with its storage in ``folder`` (made here)."""
    folder.mkdir(parents=True)
    return orthanc(folder, dicom_port=dicom_port)


def send_load(films: Sequence[Path], folder: Path, studies: dict[str, str], model: Path,
              work: Path, env: dict[str, str]) -> dict[str, float]:
    """Push, analyse, write and send every film to Orthanc; then ``classify`` the same files."""
    with _pacs(work / "pacs-send") as pacs:
        data = work / "send"
        server = Serve(data, model, env, "--send-to", pacs.destination)
        started = time.perf_counter()
        push_concurrently(server.address, films, associations=4)
        wait_answered(data, len(films))
        answered = time.perf_counter() - started
        wait_sent(data, len(films))
        elapsed = time.perf_counter() - started
        server.stop()
        records = worklist_records(data)
        tally = check_in_orthanc(pacs, records, studies)
    classify = classify_seconds(folder, model, env)
    return {**tally, "seconds": elapsed, "answered_seconds": answered,
            "classify_seconds": classify, "rss": server.peak_rss_mb,
            "labelled": sum(r.get("label") is not None for r in records)}


def send_kill(films: Sequence[Path], studies: dict[str, str], model: Path, work: Path,
              env: dict[str, str]) -> dict[str, float]:
    """SIGKILL ``serve`` while it sends, restart it; results missing in Orthanc."""
    with _pacs(work / "pacs-kill") as pacs:
        data = work / "send-kill"
        extra = ("--send-to", pacs.destination)
        server = Serve(data, model, env, *extra)
        push_concurrently(server.address, films, associations=4)
        while sent_rows(data)[0] < len(films) // 2:
            time.sleep(0.005)
        server.stop(signal.SIGKILL)
        sent, unsent = sent_rows(data)
        restarted = Serve(data, model, env, *extra)
        wait_answered(data, len(films))
        wait_sent(data, len(films))
        restarted.stop()
        tally = check_in_orthanc(pacs, worklist_records(data), studies)
    return {**tally, "sent_at_kill": sent, "unsent_at_kill": unsent}


def send_down(films: Sequence[Path], studies: dict[str, str], model: Path, work: Path,
              env: dict[str, str]) -> dict[str, float]:
    """Orthanc down for the first half of the push, then up: results missing at the end."""
    port = free_port()
    data = work / "send-down"
    server = Serve(data, model, env, "--send-to", f"ORTHANC@127.0.0.1:{port}")
    half = len(films) // 2
    push_concurrently(server.address, films[:half], associations=4)
    wait_answered(data, half)
    waiting = sum(state == "pending" for state in send_states(data).values())
    with _pacs(work / "pacs-down", dicom_port=port) as pacs:
        up = time.perf_counter()
        push_concurrently(server.address, films[half:], associations=4)
        wait_answered(data, len(films))
        wait_sent(data, len(films))
        recovery = time.perf_counter() - up
        server.stop()
        tally = check_in_orthanc(pacs, worklist_records(data), studies)
    return {**tally, "pending_while_down": waiting, "recovery_seconds": recovery}


def sending_rows(send: dict | None, kill: dict | None, down: dict | None
                 ) -> list[tuple[str, str, str]]:
    """The table rows of the sending parts that ran."""
    rows = []
    if send:
        n = send["films"]
        ratio = send["classify_seconds"] / send["seconds"]
        rows += [
            ("films pushed over 4 associations, results in Orthanc (SR, and SC if labelled)",
             f"{send['complete']} of {n} ({send['labelled']} labelled); exactly one SR: "
             f"{send['one_sr']}; at most one SC: {send['at_most_one_sc']}",
             f"{n} of {n}, one SR and at most one SC each"),
            ("the answer in the SR equals the worklist's", f"{send['answer_equal']} of {n}",
             "every film"),
            ("throughput receive + analyse + write + send vs classify",
             f"{ratio:.2f}x ({n / send['seconds']:.1f} films/s, all sent in "
             f"{send['seconds']:.1f} s, all answered in {send['answered_seconds']:.1f} s; "
             f"classify {n / send['classify_seconds']:.1f} films/s)", ">= 0.6x"),
            ("memory while receiving and sending (serve, peak RSS)", f"{send['rss']:.0f} MB",
             "<= 500 MB"),
        ]
    if kill:
        rows.append((
            "SIGKILL of serve while sending, restart: results missing in Orthanc",
            f"{kill['missing']} of {kill['owed']} ({kill['sent_at_kill']} sent and "
            f"{kill['unsent_at_kill']} not yet at the kill; {kill['complete']} of "
            f"{kill['films']} films complete; exactly one SR: {kill['one_sr']})", "0"))
    if down:
        rows.append((
            "destination down for the first half, then up: results missing after recovery",
            f"{down['missing']} of {down['owed']} ({down['pending_while_down']} films "
            f"pending while down; all sent {down['recovery_seconds']:.0f} s after Orthanc "
            f"started; exactly one SR: {down['one_sr']} of {down['films']})", "0"))
    return rows
