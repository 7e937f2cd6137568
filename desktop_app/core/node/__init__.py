"""The DICOM node and the persistent worklist: receiving, watching, queueing, storing answers."""
