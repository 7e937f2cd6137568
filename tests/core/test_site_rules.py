"""The rules of site calibration on numbers alone: thresholds, gate limits, figures."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.site.site_figures import (
    FilmOutcome,
    few_films_warnings,
    site_figures,
    wilson_interval,
)
from desktop_app.core.site.site_gate import (
    GateLimits,
    ViewLimits,
    refused_and_cautioned,
    site_limits,
)
from desktop_app.core.site.site_thresholds import ThresholdSettings, confident_rate, site_decision

CLASSES = ["Normal", "Pneumonia", "COVID-19"]
MODEL_DECISION = {"priority": ["COVID-19", "Pneumonia"],
                  "thresholds": {"COVID-19": 0.3, "Pneumonia": 0.4}, "min_confidence": 0.55,
                  "strict_thresholds": True,
                  "by_age_group": {"adult": {"thresholds": {"COVID-19": 0.3,
                                                            "Pneumonia": 0.7}},
                                   "child": {"thresholds": {"COVID-19": 0.2}}}}
VIEW = ViewLimits(0.25, 0.5, 0.99)


def _probabilities(covid: np.ndarray, pneumonia: np.ndarray) -> np.ndarray:
    normal = np.clip(1.0 - covid - pneumonia, 0.0, 1.0)
    return np.stack([normal, pneumonia, covid], axis=1)


def test_confident_rate_aims_inside_the_limit_and_closer_with_more_films() -> None:
    small, large = (confident_rate(n, 0.05, upper=True) for n in (100, 2000))
    assert 0.0 < small < large < 0.05
    assert wilson_interval(round(small * 100), 100, 1.0)[1] <= 0.05
    assert confident_rate(100, 0.9, upper=False) > 0.9
    assert confident_rate(3, 0.9, upper=False) == 1.0  # three films cannot show 90 %


def test_site_thresholds_meet_both_limits_on_the_site_films() -> None:
    normals = np.linspace(0.0, 0.55, 200)  # overlapping the COVID-19 films a little
    covid = np.linspace(0.55, 1.0, 60)
    probabilities = _probabilities(np.concatenate([normals, covid]), np.zeros(260))
    truths = ["Normal"] * 200 + ["COVID-19"] * 60
    decision, how = site_decision(MODEL_DECISION, probabilities, truths, ["unknown"] * 260,
                                  CLASSES, ThresholdSettings(max_false_covid=0.05))
    threshold = decision["thresholds"]["COVID-19"]
    assert (normals >= threshold).mean() <= 0.05
    assert (covid >= threshold).mean() >= 0.9
    assert how["all"]["COVID-19"]["set_by"] == "both"
    # No age group had films: each keeps the model's thresholds, COVID-19 at least the site's.
    assert decision["by_age_group"]["adult"]["thresholds"]["Pneumonia"] == 0.7
    assert decision["by_age_group"]["child"]["thresholds"]["COVID-19"] == threshold
    assert decision["strict_thresholds"] is True
    assert "operating_point" not in decision


def test_covid_conflict_keeps_the_limit_on_normals() -> None:
    # Other pneumonias look like COVID-19 to the model here; normals do not.
    rng = np.random.default_rng(1)
    normals, pneumonias, covid = (rng.uniform(0.0, 0.4, 100), rng.uniform(0.3, 1.0, 100),
                                  rng.uniform(0.45, 1.0, 100))
    scores = np.concatenate([normals, pneumonias, covid])
    truths = ["Normal"] * 100 + ["Pneumonia"] * 100 + ["COVID-19"] * 100
    decision, how = site_decision(MODEL_DECISION, _probabilities(scores, np.full(300, 0.01)),
                                  truths, ["unknown"] * 300, CLASSES, ThresholdSettings())
    record = how["all"]["COVID-19"]
    threshold = decision["thresholds"]["COVID-19"]
    assert record["set_by"].startswith("normals")
    assert (normals >= threshold).mean() <= 0.05
    assert (covid >= threshold).mean() >= 0.9
    assert "the limit was kept on the normal films" in record["note"]


def test_covid_conflict_without_normals_keeps_the_models_threshold() -> None:
    rng = np.random.default_rng(1)
    scores = rng.uniform(0.0, 1.0, 300)  # no separation at all
    truths = ["Pneumonia"] * 150 + ["COVID-19"] * 150
    decision, how = site_decision(MODEL_DECISION, _probabilities(scores, np.full(300, 0.01)),
                                  truths, ["unknown"] * 300, CLASSES, ThresholdSettings())
    assert how["all"]["COVID-19"]["set_by"] == "model (conflict, too few normals)"
    assert decision["thresholds"]["COVID-19"] == pytest.approx(0.3)
    assert "too few normal films" in how["all"]["COVID-19"]["note"]


def test_pneumonia_conflict_keeps_the_false_positive_limit() -> None:
    rng = np.random.default_rng(3)
    pneumonia = rng.uniform(0.0, 1.0, 200)
    truths = ["Normal"] * 100 + ["Pneumonia"] * 100
    decision, how = site_decision(MODEL_DECISION, _probabilities(np.full(200, 0.01), pneumonia),
                                  truths, ["unknown"] * 200, CLASSES, ThresholdSettings())
    assert how["all"]["Pneumonia"]["set_by"] == "false_positive_limit (conflict)"
    assert (pneumonia[:100] >= decision["thresholds"]["Pneumonia"]).mean() <= 0.10


def test_covid_films_alone_never_lower_a_threshold() -> None:
    covid = np.linspace(0.05, 0.95, 50)
    decision, how = site_decision(MODEL_DECISION, _probabilities(covid, np.zeros(50)),
                                  ["COVID-19"] * 50, ["unknown"] * 50, CLASSES,
                                  ThresholdSettings())
    assert decision["thresholds"]["COVID-19"] == pytest.approx(0.3)
    assert how["all"]["COVID-19"]["set_by"].startswith("model (lowering")


def test_age_groups_with_enough_films_get_their_own_thresholds() -> None:
    rng = np.random.default_rng(2)
    adults, children = rng.uniform(0, 0.5, 100), rng.uniform(0, 0.9, 100)
    probabilities = _probabilities(np.concatenate([adults, children]), np.zeros(200))
    decision, _ = site_decision(MODEL_DECISION, probabilities, ["Normal"] * 200,
                                ["adult"] * 100 + ["child"] * 100, CLASSES, ThresholdSettings())
    adult = decision["by_age_group"]["adult"]["thresholds"]["COVID-19"]
    child = decision["by_age_group"]["child"]["thresholds"]["COVID-19"]
    assert (adults >= adult).mean() <= 0.05
    assert (children >= child).mean() <= 0.05
    assert child > adult


def _film(features: float, frontal: float = 0.9, **image: float) -> dict[str, float]:
    return {"layout": 1.0, "orientation": 0.5, "global": 1.0, "texture": 1.0,
            "features": features, "frontal_probability": frontal, "aspect": 1.2,
            "uniform_fraction": 0.1, "colourfulness": 0.0, "gray_levels": 200.0, **image}


SPEC = {"distance_threshold": 10.0, "refusal_limits": {"features": 12.0},
        "max_aspect": 2.0, "max_uniform_fraction": 0.36, "max_colourfulness": 5.0,
        "min_gray_levels": 40,
        "appearance": {"distance_threshold": 2.0}, "global": {"distance_threshold": 3.0},
        "texture": {"distance_threshold": 3.0}, "orientation": {"min_score": 0.2}}


def test_site_limits_widen_to_the_site_films() -> None:
    site = [_film(f) for f in np.linspace(8.0, 20.0, 200)]
    result = site_limits(SPEC, site, VIEW, [None] * 4, [True] * 4, [True, True, False, False])
    limits: GateLimits = result["limits"]
    assert limits.refusal["features"] > 20.0
    assert result["moved"]["features"] == 1.0
    refused, _ = refused_and_cautioned(site, limits, VIEW, [False] * 200)
    assert not refused.any()
    assert result["non_chest"]["development"]["refused_after"] == 1.0


def test_non_chest_check_set_brakes_the_widening() -> None:
    site = [_film(f) for f in np.linspace(8.0, 40.0, 200)]
    # Non-chest images the view check does not catch, just past the model's refusal limit.
    checks = [_film(f, frontal=0.6) for f in np.linspace(13.0, 30.0, 40)]
    development = [i % 2 == 0 for i in range(40)]
    result = site_limits(SPEC, site, VIEW, checks, [True] * 40, development)
    assert 0.0 <= result["moved"]["features"] < 1.0
    assert result["non_chest"]["development"]["refused_after"] >= 0.98
    assert result["limits"].refusal["features"] < result["wanted"].refusal["features"]


def test_films_the_view_check_calls_not_frontal_are_not_the_sites_look() -> None:
    site = [_film(30.0, frontal=0.3)] * 100 + [_film(9.0)] * 40
    result = site_limits(SPEC, site, VIEW, [None], [True], [True])
    assert result["site_films"] == 40
    assert result["limits"].refusal["features"] == pytest.approx(12.0)


def test_vouched_films_are_cautioned_not_refused() -> None:
    limits = GateLimits.from_spec(SPEC)
    refused, cautioned = refused_and_cautioned(
        [_film(50.0, frontal=0.995), _film(50.0, frontal=0.9), _film(11.0), None],
        limits, VIEW, [False, False, False, True])
    assert refused.tolist() == [False, True, False, True]
    assert cautioned.tolist() == [True, False, True, False]


def test_figures_and_few_films_warning() -> None:
    outcomes = ([FilmOutcome("Normal", "adult", "Normal", False, False)] * 36
                + [FilmOutcome("Normal", "adult", "COVID-19", False, False)] * 4)
    figures = site_figures(outcomes)
    entry = figures["all"]["normal_as_covid"]
    assert entry["n"] == 40
    assert entry["value"] == pytest.approx(0.1)
    low, high = entry["ci95"]
    assert low < 0.1 < high
    warnings = few_films_warnings(figures)
    assert any(w.startswith("40 normal films: the share of normal films labelled COVID-19")
               and "±" in w for w in warnings)


def test_flat_area_limit_widens_to_the_sites_films_but_never_colour() -> None:
    # A site whose films have wide black collimation borders: 5 % of them past the model's
    # flat-area limit, all of them frontal films to the view check.
    site = [_film(9.0, 1.0, uniform_fraction=u) for u in np.linspace(0.05, 0.45, 200)]
    limits = GateLimits.from_spec(SPEC)
    refused, _ = refused_and_cautioned(site, limits, VIEW, [False] * 200)
    assert refused.sum() > 0
    result = site_limits(SPEC, site, VIEW, [_film(9.0, 0.9, uniform_fraction=0.9)], [True],
                         [True])
    widened: GateLimits = result["limits"]
    assert widened.refusal["uniform_fraction"] > 0.45
    assert widened.to_spec(SPEC)["max_uniform_fraction"] == widened.refusal["uniform_fraction"]
    refused, _ = refused_and_cautioned(site, widened, VIEW, [False] * 200)
    assert not refused.any()
    colour = [_film(9.0, 1.0, colourfulness=30.0)]
    assert refused_and_cautioned(colour, widened, VIEW, [True])[0].all()
    no_lungs = [{**_film(9.0, 1.0), "lungs_found": 0.0}]
    assert refused_and_cautioned(no_lungs, widened, VIEW, [True])[0].all()


def test_image_limits_stop_half_way_to_a_non_chest_image() -> None:
    site = [_film(9.0, 1.0, uniform_fraction=u) for u in np.linspace(0.05, 0.7, 200)]
    document = _film(9.0, 0.6, uniform_fraction=0.5)  # the view check is unsure of it
    result = site_limits(SPEC, site, VIEW, [document], [True], [True])
    assert result["limits"].refusal["uniform_fraction"] <= 0.36 + (0.5 - 0.36) / 2 + 1e-9
    assert refused_and_cautioned([document], result["limits"], VIEW, [True])[0].all()
