"""Patient keys from file names: re-exported from :mod:`desktop_app.core.patient_ids`.

Moved to the core (2026-12-01) with the dataset layouts, which local validation reads
without TensorFlow.
"""

from __future__ import annotations

from desktop_app.core.patient_ids import derive_patient_id

__all__ = ["derive_patient_id"]
