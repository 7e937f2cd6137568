"""A site's films for calibration: read them in any layout, measure them once.

Site calibration (:mod:`desktop_app.core.site.site_calibration`) needs, for every film a clinic
gives it, what the installed model and its gate measured: the calibrated probabilities, each
gate check's value, the view model's frontal probability, and what the app answered. One pass
of the app's own classify path (:class:`~desktop_app.core.classify.analysis.Analyzer`) gives all of
it,
so calibrating costs about what classifying the same films costs, and the films are read by
the same loader the app reads them with.

Labels are optional. A labelled layout (anything
:func:`desktop_app.core.validation.labelled_data.read_labelled` reads: folder per class, a
LungLens/CoronaHack ``metadata.csv`` or such a CSV)
gives thresholds as well as the gate; a plain folder of films (last month's studies) adapts the
gate only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.core.classify.analysis import Analyzer, expand_inputs
from desktop_app.core.errors import LungLensError
from desktop_app.core.validation.labelled_data import guess_source, read_labelled

__all__ = ["MeasuredFilm", "SiteFilm", "SiteFilmsError", "measure_films", "read_site_films"]

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]


class SiteFilmsError(LungLensError):
    """The site's films cannot be read (the message names the path and the problem)."""


@dataclass(frozen=True)
class SiteFilm:
    """One film a site gave for calibration.

    Attributes:
        path: The image file.
        truth: Its label, or ``None`` for an unlabelled film.
        patient_id: Patient key: cross-validation keeps a patient's films in one fold.
        age_group: ``child``, ``adult`` or ``unknown`` (from the data; a DICOM file's own age
            wins when the film is measured).
        source: The data's source column, or a guess from the file name.
    """

    path: Path
    truth: str | None
    patient_id: str
    age_group: str = "unknown"
    source: str = ""


@dataclass(frozen=True)
class MeasuredFilm:
    """What the installed model and its gate measured on one site film.

    Attributes:
        film: The film.
        error: Why it could not be read (then nothing below is set).
        probabilities: Calibrated probabilities, in the card's class order.
        values: Each gate check's value (``layout``, ``orientation`` score, ``global``,
            ``texture``, ``features``, ``frontal_probability``); the image checks' refusals
            (colour, aspect, grey levels, flat areas) and "no lung fields" stop the gate
            before the appearance checks, so such a film lacks ``layout``.
        age_group: The age group the app decided for (the film's own DICOM age first).
        label: The app's answer (``None`` when refused or unreadable).
        refused: The gate refused the film.
        cautioned: The film was labelled with a caution.
        reason: Why it was refused.
        equipment: The DICOM header's manufacturer and model, when the file names them.
    """

    film: SiteFilm
    error: str | None = None
    probabilities: np.ndarray | None = None
    values: dict[str, float] | None = None
    age_group: str = "unknown"
    label: str | None = None
    refused: bool = False
    cautioned: bool = False
    reason: str | None = None
    equipment: str | None = None

    @property
    def ok(self) -> bool:
        """True when the film was read and measured."""
        return self.error is None


def read_site_films(path: Path | str, classes: Sequence[str]) -> tuple[list[SiteFilm], int]:
    """The films at ``path``: labelled when the layout says so, else unlabelled.

    Args:
        path: A labelled folder or CSV, or any folder of films.
        classes: The model's classes; labelled films of other classes are left out.

    Returns:
        ``(films, left_out)``: the films, and how many labelled films were of another class.

    Raises:
        SiteFilmsError: If ``path`` does not exist, a CSV cannot be read, or there is no film.
    """
    path = Path(path)
    if not path.exists():
        raise SiteFilmsError(f"the site's films were not found: {str(path)!r} does not exist")
    labelled = None
    try:
        labelled = read_labelled(path)
    except FileNotFoundError as error:
        raise SiteFilmsError(f"cannot read the site's films at {str(path)!r}: {error}") \
            from error
    except ValueError as error:
        if path.is_file():  # a CSV that does not parse is an error, not "unlabelled"
            raise SiteFilmsError(f"cannot read labelled films from {str(path)!r}: {error}") \
                from error
    if labelled:
        films = [SiteFilm(Path(row.path), row.label, row.patient_id, row.age_group, row.source)
                 for row in labelled if row.label in classes]
        left_out = len(labelled) - len(films)
        if not films:
            raise SiteFilmsError(
                f"{str(path)!r} holds no film of the model's classes ({', '.join(classes)}); "
                f"labels found: {sorted({row.label for row in labelled})}")
        return films, left_out
    files = expand_inputs([path]).files
    if not files:
        raise SiteFilmsError(f"no image files found in {str(path)!r}")
    # Without a patient column every film is its own patient (the safe assumption for
    # cross-validation would be the opposite, but nothing says which films share one).
    return [SiteFilm(file, None, file.stem, "unknown", guess_source(file.name))
            for file in files], 0


def measure_films(
    films: Sequence[SiteFilm],
    analyzer: Analyzer,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
) -> list[MeasuredFilm] | None:
    """Run the app's classify path once over ``films``.

    Returns:
        One entry per film, in order; ``None`` when cancelled.
    """
    classes = list(analyzer.card.classes)
    measured: list[MeasuredFilm] = []
    results = analyzer.analyse([film.path for film in films], progress=progress,
                               cancelled=cancelled,
                               age_groups=[film.age_group for film in films])
    # Results drive the loop (not the films), so the generator runs to its end and reports
    # its last progress step.
    for position, result in enumerate(results):
        film = films[position]
        if not result.ok:
            measured.append(MeasuredFilm(film, error=result.error,
                                         age_group=result.age_group))
            continue
        probabilities = np.array([result.probabilities[name] for name in classes])
        ood = result.ood
        measured.append(MeasuredFilm(
            film,
            probabilities=probabilities,
            values=dict(ood.values) if ood is not None else {},
            age_group=result.age_group,
            label=result.label,
            refused=result.out_of_distribution,
            cautioned=result.caution is not None,
            reason=ood.reason if ood is not None and result.out_of_distribution else None,
            equipment=result.equipment,
        ))
    if len(measured) < len(films) or (cancelled is not None and cancelled()):
        return None
    return measured
