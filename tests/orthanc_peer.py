"""A real PACS for the tests: Orthanc (Debian's ``orthanc``) on free ports, temporary storage."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.storage_peer import free_port


@dataclass(frozen=True)
class Orthanc:
    """A running Orthanc: its DICOM destination and its REST address."""

    destination: str
    http: str

    def get(self, path: str) -> object:
        with urllib.request.urlopen(f"{self.http}{path}", timeout=10) as response:
            return json.load(response)

    def instance_uids(self) -> dict[str, str]:
        """SOP Instance UID -> SOP Class UID of every instance stored."""
        return {tags["SOPInstanceUID"]: tags["SOPClassUID"] for tags in self.instances()}

    def instances(self) -> list[dict[str, str]]:
        """The main tags of every instance stored, with its Orthanc id as ``"id"``."""
        found = []
        for orthanc_id in self.get("/instances"):  # type: ignore[union-attr]
            tags = self.get(f"/instances/{orthanc_id}/simplified-tags")
            found.append({"id": orthanc_id, **{key: tags.get(key, "")  # type: ignore[union-attr]
                          for key in ("SOPInstanceUID", "SOPClassUID", "StudyInstanceUID")}})
        return found

    def file(self, orthanc_id: str) -> bytes:
        """The stored DICOM file of one instance."""
        with urllib.request.urlopen(f"{self.http}/instances/{orthanc_id}/file",
                                    timeout=30) as response:
            return response.read()


@contextmanager
def orthanc(tmp_path: Path, dicom_port: int | None = None) -> Iterator[Orthanc]:
    """Start Orthanc with a temporary configuration; skip when it is not installed.

    ``dicom_port``: listen there (a destination named before Orthanc starts), else anywhere.
    """
    binary = shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin")
    if binary is None:
        pytest.skip("Orthanc is not installed (Debian package orthanc; .ci/run installs it)")
    http_port, dicom_port = free_port(), dicom_port or free_port()
    storage = tmp_path / "orthanc"
    storage.mkdir()
    config = storage / "orthanc.json"
    config.write_text(json.dumps({
        "Name": "LungLensTest", "StorageDirectory": str(storage / "db"),
        "IndexDirectory": str(storage / "db"), "HttpPort": http_port,
        "DicomPort": dicom_port, "DicomAet": "ORTHANC", "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "Plugins": [], "HttpServerEnabled": True,
        "DicomServerEnabled": True}), encoding="utf-8")
    log = open(storage / "orthanc.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
    process = subprocess.Popen([binary, str(config)], stdout=log, stderr=subprocess.STDOUT)
    peer = Orthanc(f"ORTHANC@127.0.0.1:{dicom_port}", f"http://127.0.0.1:{http_port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                peer.get("/system")
                break
            except OSError:
                assert process.poll() is None, (storage / "orthanc.log").read_text()
                assert time.monotonic() < deadline, "Orthanc did not start"
                time.sleep(0.2)
        yield peer
    finally:
        process.terminate()
        process.wait(30)
        log.close()
