"""The dataset check: what is wrong with a dataset, reported before any training starts.

It decodes every file through the app's loader (so "unreadable" means exactly what the app
would refuse), hashes the decoded pixels to find duplicates (the same image re-saved under
another name or format is still a duplicate), and checks the patient split. Each finding has
a severity:

* ``fatal`` - training must not start (e.g. a class with too few images);
* ``warning`` - training can run but results will be biased (duplicates across splits,
  patient leakage, unreadable files that will be skipped);
* ``info`` - worth knowing (duplicates inside one split, counts).

Besides these findings about files, the report describes the dataset's composition (images
per class, source and age group) and the shortcuts in it: classes that come from their own
sources, and how well the source, the age group or (inside a source) the view alone predicts
the class (:mod:`model_training.confounding`). Those are warnings about what a model may learn
instead of the disease, never fatal: such a dataset is still trainable, but its test figures
flatter the model.

A plain function with ``progress(done, total)`` and ``cancelled()`` callbacks, so the wizard
runs it in a worker and displays the returned :class:`DatasetReport`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from model_training.confounding import (
    ConfoundingWarning,
    GroupCount,
    ShortcutScore,
    composition,
    find_confounding,
)
from model_training.splits import patient_leakage

__all__ = [
    "MIN_IMAGES_PER_CLASS",
    "CheckCancelled",
    "DatasetReport",
    "Finding",
    "check_dataset",
    "format_composition",
]

#: Fewer images than this in a class (in TRAIN) make training pointless: validation would hold
#: one or two images of the class and every threshold chosen on it would be noise.
MIN_IMAGES_PER_CLASS = 20
SEVERITIES: tuple[str, ...] = ("fatal", "warning", "info")


class CheckCancelled(Exception):  # noqa: N818 - an outcome, not an error
    """Raised when ``cancelled()`` returned True."""


@dataclass(frozen=True)
class Finding:
    """One problem or fact.

    Attributes:
        severity: ``"fatal"``, ``"warning"`` or ``"info"``.
        code: Stable identifier (``missing_file``, ``unreadable_file``,
            ``duplicate_across_splits``, ``duplicate``, ``patient_leakage``,
            ``class_too_small``, ``class_missing``).
        message: One sentence for the user, quoting the values.
        paths: Files concerned (may be empty).
    """

    severity: str
    code: str
    message: str
    paths: tuple[str, ...] = ()


@dataclass
class DatasetReport:
    """What :func:`check_dataset` found.

    Attributes:
        images: Rows in the table.
        readable: Files the loader decoded.
        per_class / per_source / per_split: Image counts.
        per_class_split: ``{class: {split: count}}``.
        patients: Distinct patient ids.
        findings: Everything found, fatal first.
        per_class_source_age: Images per class, source and age group, per split and in total.
        shortcuts: What guessing the class from the source, the age group or (inside each
            source) the view alone achieves, whether or not it is worth a warning.
        confounding: Shortcut warnings and notes, strongest first.
    """

    images: int
    readable: int
    per_class: dict[str, int]
    per_source: dict[str, int]
    per_split: dict[str, int]
    per_class_split: dict[str, dict[str, int]]
    patients: int
    findings: list[Finding] = field(default_factory=list)
    per_class_source_age: list[GroupCount] = field(default_factory=list)
    shortcuts: list[ShortcutScore] = field(default_factory=list)
    confounding: list[ConfoundingWarning] = field(default_factory=list)

    @property
    def fatal(self) -> bool:
        """True when training must not start (shortcuts never are: they bias, not block)."""
        return any(f.severity == "fatal" for f in self.findings)

    @property
    def confounding_warnings(self) -> list[ConfoundingWarning]:
        """The shortcuts strong enough to warn about (without the weak ones, which are notes)."""
        return [w for w in self.confounding if w.severity == "warning"]

    def by_severity(self, severity: str) -> list[Finding]:
        """Findings of one severity."""
        return [f for f in self.findings if f.severity == severity]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["fatal"] = self.fatal
        return data

    def format(self, max_paths: int = 5) -> str:
        """Plain-text summary (CLI): counts, composition, shortcuts, then the findings."""
        lines = [
            f"{self.images} images ({self.readable} readable), {self.patients} patients",
            "per class: " + ", ".join(f"{k} {v}" for k, v in self.per_class.items()),
            "per source: " + ", ".join(f"{k} {v}" for k, v in self.per_source.items()),
            "per split: " + ", ".join(f"{k} {v}" for k, v in self.per_split.items()),
        ]
        if self.per_class_source_age:
            lines.append("")
            lines.append("images per class, source and age group:")
            lines.extend(f"  {line}" for line in format_composition(self.per_class_source_age))
        if self.shortcuts:
            lines.append("")
            lines.append("the class guessed from metadata alone (commonest class per group):")
            lines.extend(f"  {score.describe()}" for score in self.shortcuts)
        if self.confounding:
            lines.append("")
            lines.append("shortcuts a model can learn instead of the disease:")
            for item in self.confounding:
                lines.append(f"[{item.severity}, {item.strength}] {item.kind}: {item.message}")
        if self.findings and len(lines) > 4:
            lines.append("")
        for finding in self.findings:
            lines.append(f"[{finding.severity}] {finding.code}: {finding.message}")
            lines.extend(f"    {p}" for p in finding.paths[:max_paths])
            if len(finding.paths) > max_paths:
                lines.append(f"    ... and {len(finding.paths) - max_paths} more")
        return "\n".join(lines)


def format_composition(rows: list[GroupCount]) -> list[str]:
    """The class x source x age group table as aligned text lines (with a total line)."""
    splits = sorted({split for row in rows for split in row.per_split})
    header = ["class", "source", "age group", *splits, "total"]
    body = [[row.label, row.source, row.age_group,
             *(str(row.per_split.get(split, 0)) for split in splits), str(row.total)]
            for row in rows]
    body.append(["all", "", "", *(str(sum(row.per_split.get(split, 0) for row in rows))
                                  for split in splits), str(sum(row.total for row in rows))])
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) if i < 3 else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(cells, widths, strict=True)))

    return [line(header).rstrip(), *(line(cells).rstrip() for cells in body)]


def _split_name(value: object) -> str:
    return str(value) if value is not None and not pd.isna(value) else "(none)"


def check_dataset(
    table: pd.DataFrame,
    classes: list[str] | tuple[str, ...] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    min_images_per_class: int = MIN_IMAGES_PER_CLASS,
) -> DatasetReport:
    """Check a dataset table (from :func:`model_training.datasets.read_dataset`).

    Args:
        table: The dataset table.
        classes: The task's classes (default: the table's label categories).
        progress: Called with ``(done, total)`` after each decoded file.
        cancelled: Polled before each file.
        min_images_per_class: Below this many TRAIN images (all images when there is no
            split) a class is fatal.

    Returns:
        The report.

    Raises:
        CheckCancelled: If ``cancelled()`` returned True.
    """
    if classes is None:
        labels = table["label"]
        classes = list(labels.cat.categories) if hasattr(labels, "cat") else \
            sorted(labels.astype(str).unique())
    labels = table["label"].astype(str)
    splits = table["split"].map(_split_name)
    hashes, missing, unreadable = _scan_files(table, progress, cancelled)
    findings = [*_file_findings(missing, unreadable),
                *_duplicate_findings(table, hashes, splits, labels),
                *_leakage_findings(table),
                *_class_size_findings(table, {p for p in missing} | {p for p, _ in unreadable},
                                      classes, min_images_per_class)]
    findings.sort(key=lambda f: SEVERITIES.index(f.severity))

    shortcuts, confounding = find_confounding(table, classes)
    per_class_split: dict[str, dict[str, int]] = {}
    for (label, split), count in pd.crosstab(labels, splits).stack().items():
        per_class_split.setdefault(str(label), {})[str(split)] = int(count)
    total = len(table)
    return DatasetReport(
        images=total,
        readable=total - len(missing) - len(unreadable),
        per_class={str(k): int(v) for k, v in labels.value_counts().sort_index().items()},
        per_source={str(k): int(v) for k, v in
                    table["source"].astype(str).value_counts().sort_index().items()},
        per_split={str(k): int(v) for k, v in splits.value_counts().sort_index().items()},
        per_class_split=per_class_split,
        patients=int(table["patient_id"].nunique()),
        findings=findings,
        per_class_source_age=composition(table, classes),
        shortcuts=shortcuts,
        confounding=confounding,
    )


def _scan_files(
    table: pd.DataFrame,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
) -> tuple[dict[str, list[int]], list[str], list[tuple[str, str]]]:
    """Decode every file: row indices by pixel hash, missing paths, (path, reason) unreadable."""
    import hashlib

    import numpy as np

    from desktop_app.core.errors import ImageLoadError
    from desktop_app.core.imaging import load_image

    hashes: dict[str, list[int]] = defaultdict(list)
    missing: list[str] = []
    unreadable: list[tuple[str, str]] = []
    total = len(table)
    for done, (index, path) in enumerate(zip(table.index, table["path"], strict=True), 1):
        if cancelled is not None and cancelled():
            raise CheckCancelled("dataset check was cancelled")
        if not Path(path).is_file():
            missing.append(str(path))
        else:
            try:
                pixels = load_image(path).pixels
                digest = hashlib.sha1(
                    np.ascontiguousarray(pixels, dtype=np.float32).tobytes()).hexdigest()
                hashes[digest].append(index)
            except ImageLoadError as error:
                unreadable.append((str(path), error.reason))
        if progress is not None:
            progress(done, total)
    return hashes, missing, unreadable


def _file_findings(missing: list[str], unreadable: list[tuple[str, str]]) -> list[Finding]:
    """Missing and unreadable files: skipped, said once (missing) or per file (unreadable)."""
    findings: list[Finding] = []
    if missing:
        findings.append(Finding(
            "warning", "missing_file",
            f"{len(missing)} file(s) listed in the dataset do not exist, e.g. {missing[0]!r}; "
            "they will be skipped", tuple(missing)))
    for path, reason in unreadable:
        findings.append(Finding("warning", "unreadable_file",
                                f"{path!r} cannot be read: {reason}; it will be skipped",
                                (path,)))
    return findings


def _duplicate_findings(table: pd.DataFrame, hashes: dict[str, list[int]], splits: pd.Series,
                        labels: pd.Series) -> list[Finding]:
    """Identical images: with conflicting labels, across splits, within one split."""
    findings: list[Finding] = []
    across: list[tuple[str, ...]] = []
    within: list[tuple[str, ...]] = []
    for rows in hashes.values():
        if len(rows) > 1:
            paths = tuple(str(table.at[i, "path"]) for i in rows)
            group_splits = {splits[i] for i in rows}
            group_labels = {labels[i] for i in rows}
            (across if len(group_splits) > 1 else within).append(paths)
            if len(group_labels) > 1:
                findings.append(Finding(
                    "warning", "duplicate_conflicting_labels",
                    f"the same image is labelled {sorted(group_labels)}", paths))
    for paths in across:
        findings.append(Finding(
            "warning", "duplicate_across_splits",
            f"the same image appears in several splits ({len(paths)} copies); test results "
            "would be inflated", paths))
    if within:
        findings.append(Finding(
            "info", "duplicate",
            f"{len(within)} group(s) of identical images within one split "
            f"({sum(len(p) for p in within)} files)",
            tuple(p for group in within for p in group)))
    return findings


def _leakage_findings(table: pd.DataFrame) -> list[Finding]:
    """Patients with images in more than one split."""
    leaks = patient_leakage(table)
    if not leaks:
        return []
    rows = table[table["patient_id"].astype(str).isin(leaks)]
    return [Finding(
        "warning", "patient_leakage",
        f"{len(leaks)} patient(s) have images in more than one split, e.g. {leaks[:3]}; "
        "the split will be redone by patient", tuple(rows["path"].astype(str)))]


def _class_size_findings(table: pd.DataFrame, bad: set[str], classes: Sequence[str],
                         min_images_per_class: int) -> list[Finding]:
    """Fatal: a class with no, or too few, readable TRAIN images (all images without a split)."""
    findings: list[Finding] = []
    usable = table[~table["path"].astype(str).isin(bad)]
    has_split = usable["split"].notna().any()
    train_rows = usable[usable["split"] == "TRAIN"] if has_split else usable
    for name in classes:
        count = int((train_rows["label"].astype(str) == name).sum())
        where = "TRAIN images" if has_split else "images"
        if count == 0:
            findings.append(Finding("fatal", "class_missing",
                                    f"class {name!r} has no readable {where}"))
        elif count < min_images_per_class:
            findings.append(Finding(
                "fatal", "class_too_small",
                f"class {name!r} has only {count} readable {where} (at least "
                f"{min_images_per_class} needed)"))
    return findings
