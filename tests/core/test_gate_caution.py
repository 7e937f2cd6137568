"""Refusal vs caution: a check with a refusal limit labels an unusual film with a caution."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.errors import ModelBundleError
from desktop_app.core.gate import Gate, OodGate, OodVerdict, Tier, ViewCheck, tier
from desktop_app.core.gate.gate import agreement
from desktop_app.core.gate.view import VIEW_CARD_FILE, VIEW_CLASSES, ViewCard, load_view_model
from tests.core.test_ood import _gate_with_texture_and_global, _prepared_radiographs, fitted_gate

PASS = OodVerdict(False, None)


def test_tier_passes_within_the_limit_cautions_between_and_refuses_beyond() -> None:
    assert tier(1.0, 1.0, 2.0) is Tier.PASS
    assert tier(1.5, 1.0, 2.0) is Tier.CAUTION
    assert tier(2.0, 1.0, 2.0) is Tier.CAUTION
    assert tier(2.1, 1.0, 2.0) is Tier.REFUSE
    assert tier(1.5, 1.0, None) is Tier.REFUSE  # no refusal limit: as before
    assert tier(float("nan"), 1.0, 2.0) is Tier.REFUSE


def test_a_verdict_never_refuses_and_cautions_at_once() -> None:
    with pytest.raises(ValueError, match="'odd'"):
        OodVerdict(True, "lateral view", caution="odd")


def test_feature_distance_between_the_limits_gives_a_caution_with_the_numbers() -> None:
    gate, _ = fitted_gate()
    threshold = gate.distance_threshold
    spec = copy.deepcopy(_spec_of(gate))
    spec["refusal_limits"] = {"features": threshold * 2}
    tiered = OodGate(spec)
    direction = np.zeros(8)
    direction[7] = 1.0
    # Walk out along an axis until the distance lies between the two limits.
    near = next(direction * r for r in np.linspace(0, 40, 4001)
                if threshold * 1.2 < tiered.distances(direction * r)[0] < threshold * 1.8)
    far = direction * 60.0
    cautioned, refused = tiered.check_features(np.stack([near, far]))
    assert not cautioned.out_of_distribution
    distance = cautioned.distance
    assert cautioned.caution == (f"features unlike the training films (distance {distance:.1f}; "
                                 f"usual up to {threshold:.1f})")
    assert cautioned.values == {"features": distance}
    assert refused.out_of_distribution
    assert refused.caution is None
    assert "feature distance" in refused.reason
    # The same card without the refusal limit refuses the near film, exactly as before.
    assert gate.check_features(near[None])[0].out_of_distribution


def _spec_of(gate: OodGate) -> dict:
    return gate._spec  # the validated card section the gate was built from


def test_appearance_checks_between_the_limits_caution_in_order() -> None:
    _, spec = _gate_with_texture_and_global()
    image = _prepared_radiographs(70)[65]
    measured = OodGate(spec).appearance_distances(image)
    layout, _ = measured["layout"]
    score = -measured["orientation"][0]
    spec = copy.deepcopy(spec)
    spec["appearance"]["distance_threshold"] = layout / 2
    spec["orientation"]["min_score"] = score + 0.05
    spec["refusal_limits"] = {"layout": layout * 2, "orientation": score - 0.05}
    verdict = OodGate(spec).check_appearance(image)
    assert not verdict.out_of_distribution
    assert verdict.caution == (
        f"unusual layout (appearance distance {layout:.2f}; usual up to {layout / 2:.2f}); "
        f"unusual orientation (orientation score {score:.2f}; usual at least "
        f"{score + 0.05:.2f})")
    assert verdict.values["orientation"] == pytest.approx(score)
    # A refusal limit the film is beyond still refuses, with today's reason.
    spec["refusal_limits"]["orientation"] = score + 0.01
    refused = OodGate(spec).check_appearance(image)
    assert refused.out_of_distribution
    assert refused.caution is None
    assert "turned sideways" in refused.reason


def test_gate_limits_list_each_check_with_its_refusal_limit() -> None:
    _, spec = _gate_with_texture_and_global()
    spec = copy.deepcopy(spec)
    spec["refusal_limits"] = {"texture": spec["texture"]["distance_threshold"] + 1,
                              "orientation": spec["orientation"]["min_score"] - 1}
    limits = OodGate(spec).limits
    assert limits["texture"] == (spec["texture"]["distance_threshold"],
                                 spec["texture"]["distance_threshold"] + 1)
    assert limits["orientation"] == (spec["orientation"]["min_score"],
                                     spec["orientation"]["min_score"] - 1)
    assert limits["layout"][1] is None
    assert limits["features"][1] is None


@pytest.mark.parametrize(("limits", "quoted"), [
    ({"colour": 3.0}, "'colour'"),
    ({"features": "far"}, "'far'"),
    ({"features": True}, "True"),
    ({"features": 0.5}, "0.5"),
    ({"orientation": 99.0}, "99.0"),
    ([1, 2], r"\[1, 2\]"),
])
def test_bad_refusal_limits_are_refused_quoting_the_value(limits: object, quoted: str) -> None:
    _, spec = _gate_with_texture_and_global()
    spec = copy.deepcopy(spec)
    spec["distance_threshold"] = 1.0
    spec["refusal_limits"] = limits
    with pytest.raises(ValueError, match=quoted):
        OodGate(spec)


def test_a_refusal_limit_for_a_check_the_card_lacks_is_refused() -> None:
    gate, _ = fitted_gate()
    spec = copy.deepcopy(_spec_of(gate))
    spec["refusal_limits"] = {"layout": 5.0}
    with pytest.raises(ValueError, match="no such check"):
        OodGate(spec)


def test_combine_refusal_wins_else_cautions_are_joined() -> None:
    appearance = OodVerdict(False, None, caution="unusual layout (...)")
    features = OodVerdict(False, None, 19.0, caution="features unlike the training films")
    combined = Gate.combine(PASS, PASS, appearance, features)
    assert not combined.out_of_distribution
    assert combined.distance == 19.0
    assert combined.caution == ("unusual film: unusual layout (...); "
                                "features unlike the training films: read with care")
    unsure = OodVerdict(False, None, caution="the view check is not sure")
    assert Gate.combine(PASS, unsure, PASS, OodVerdict(False, None, 3.0)).caution == (
        "unusual film: the view check is not sure: read with care")
    refused = Gate.combine(PASS, PASS, OodVerdict(True, "layout"), features)
    assert refused == OodVerdict(True, "layout", 19.0)
    assert refused.caution is None
    assert Gate.combine(PASS, PASS, PASS, OodVerdict(False, None, 3.0)).caution is None


def test_two_doubts_refuse_where_each_alone_would_caution() -> None:
    """The view check unsure and a distance check past its usual limit: refused, both named."""
    unsure = OodVerdict(False, None, caution="the view check is not sure this is a whole "
                                             "frontal film (frontal 41%, other 55%)")
    features = OodVerdict(False, None, 19.0, caution="features unlike the training films")
    refused = Gate.combine(PASS, unsure, PASS, features)
    assert refused.out_of_distribution
    assert refused.reason.startswith("two checks doubt this is a frontal chest X-ray: the "
                                     "view check is not sure")
    assert "features unlike the training films" in refused.reason
    assert refused.distance == 19.0


def _voices(frontal: float = 0.995, **refusing: bool) -> tuple[OodVerdict, OodVerdict]:
    """Appearance and feature verdicts refusing by the named checks (vouchable)."""
    appearance_names = tuple(name for name in ("layout", "orientation", "global", "texture")
                             if refusing.get(name))
    appearance = (OodVerdict(True, f"{appearance_names[0]} reason",
                             if_frontal="; ".join(f"unusual {n}" for n in appearance_names),
                             refused_by=appearance_names)
                  if appearance_names else PASS)
    features = _features_refusal() if refusing.get("features") else OodVerdict(False, None, 3.0)
    return appearance, features


@pytest.mark.parametrize("refusing", [
    {"features": True}, {"layout": True}, {"layout": True, "features": True},
    {"texture": True}, {"global": True, "orientation": True},
])
def test_a_sure_view_check_outweighs_distance_refusals_an_unsure_one_never(
        refusing: dict[str, bool]) -> None:
    appearance, features = _voices(**refusing)
    sure = OodVerdict(False, None, values={"frontal_probability": 0.995})
    vouched = Gate.combine(PASS, sure, appearance, features, confident_frontal=0.99)
    assert not vouched.out_of_distribution
    assert "but the view check is sure it is a whole frontal film" in vouched.caution
    unsure = OodVerdict(False, None, values={"frontal_probability": 0.985},
                        caution="the view check is not sure")
    refused = Gate.combine(PASS, unsure, appearance, features, confident_frontal=0.99)
    assert refused.out_of_distribution
    assert set(refused.refused_by) == set(refusing)


def test_agreement_is_the_one_statement_of_the_rule() -> None:
    refuse, caution, passed = Tier.REFUSE, Tier.CAUTION, Tier.PASS
    base = {"image_refused": False, "view_tier": passed, "vouches": False, "refused_by": (),
            "unusual": False}
    assert agreement(**base) is passed
    assert agreement(**{**base, "image_refused": True, "vouches": True}) is refuse
    assert agreement(**{**base, "view_tier": refuse}) is refuse
    assert agreement(**{**base, "view_tier": caution}) is caution
    assert agreement(**{**base, "unusual": True}) is caution
    assert agreement(**{**base, "view_tier": caution, "unusual": True}) is refuse
    assert agreement(**{**base, "refused_by": ("features",), "unusual": True}) is refuse
    assert agreement(**{**base, "refused_by": ("features",), "unusual": True,
                        "vouches": True}) is caution
    assert agreement(**{**base, "refused_by": ("features",), "unusual": True,
                        "vouches": True, "all_vouchable": False}) is refuse
    assert agreement(**{**base, "refused_by": ("features",), "unusual": True,
                        "view_tier": caution}) is refuse
    assert agreement(**{**base, "refused_by": ("layout", "texture"), "unusual": True,
                        "vouches": True}) is caution


def _view_check_with(tmp_path: Path, caution: object, **changes: object) -> ViewCheck:
    """The shipped view model with its card's caution threshold (and other keys) changed;
    ``None`` removes a key."""
    model = load_view_model()
    card = dict(model.card.raw)
    for key, value in {"caution_frontal_probability": caution, **changes}.items():
        if value is None:
            card.pop(key, None)
        else:
            card[key] = value
    folder = tmp_path / "view"
    folder.mkdir()
    for name in model.card.files:
        (folder / name).write_bytes((model.path / name).read_bytes())
    import json

    (folder / VIEW_CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    return ViewCheck(load_view_model(folder))


def test_view_check_cautions_between_its_two_limits(tmp_path: Path) -> None:
    view_check = _view_check_with(tmp_path, 0.6)
    low = view_check.min_frontal_probability
    assert view_check.caution_frontal_probability == 0.6
    frontal = (low + 0.6) / 2
    unsure = np.array([[frontal if n == "frontal" else (1 - frontal) * (0.9 if n == "other"
                        else 0.05) for n in VIEW_CLASSES]])
    (verdict,) = view_check.verdicts(unsure)
    assert not verdict.out_of_distribution
    other = (1 - frontal) * 0.9
    assert verdict.caution == ("the view check is not sure this is a whole frontal film "
                               f"(frontal {frontal:.0%}, other {other:.0%})")
    assert verdict.values == {"frontal_probability": pytest.approx(frontal)}
    sure = np.array([[0.9, 0.05, 0.03, 0.02]])
    assert view_check.verdicts(sure)[0] == PASS
    below = np.array([[low - 0.01, 1 - low + 0.01, 0.0, 0.0]])
    assert view_check.verdicts(below)[0].out_of_distribution


@pytest.mark.parametrize("caution", [0.01, 1.5, "high", True])
def test_view_card_with_a_bad_caution_probability_is_refused(tmp_path: Path,
                                                            caution: object) -> None:
    with pytest.raises(ModelBundleError, match=repr(caution).replace(".", r"\.")):
        _view_check_with(tmp_path, caution)


def test_view_card_without_a_caution_probability_has_no_caution_tier(tmp_path: Path) -> None:
    view_check = _view_check_with(tmp_path, None, confident_frontal_probability=None)
    assert view_check.caution_frontal_probability is None
    assert view_check.confident_frontal_probability is None
    assert isinstance(view_check.model.card, ViewCard)
    low = view_check.min_frontal_probability
    assert view_check.verdicts(np.array([[low + 0.01, 1 - low - 0.01, 0.0, 0.0]]))[0] == PASS


def test_the_shipped_view_card_has_both_tiers_and_vouches_at_99_percent() -> None:
    card = load_view_model().card
    assert card.min_frontal_probability < card.caution_frontal_probability
    assert card.confident_frontal_probability == 0.99


@pytest.mark.parametrize("confident", [0.3, 1.5, "sure", True])
def test_view_card_with_a_bad_confident_probability_is_refused(tmp_path: Path,
                                                              confident: object) -> None:
    with pytest.raises(ModelBundleError, match=repr(confident).replace(".", r"\.")):
        _view_check_with(tmp_path, 0.5, confident_frontal_probability=confident)


def test_analyzer_results_carry_each_checks_value_for_benchmarks(
    tiny_caution_bundle: Path, tmp_path: Path
) -> None:
    from PIL import Image

    from desktop_app.core.classify.analysis import Analyzer
    from desktop_app.core.classify.synthetic import synthetic_radiograph
    from desktop_app.core.model.model_bundle import load_bundle

    path = tmp_path / "film.png"
    Image.fromarray(synthetic_radiograph(seed=1)).save(path)
    analyzer = Analyzer(load_bundle(tiny_caution_bundle))
    (result,) = analyzer.analyse([path])
    values = result.ood.values
    assert set(values) == {"frontal_probability", "layout", "features", "colourfulness",
                           "aspect", "gray_levels", "uniform_fraction"}
    assert values["aspect"] == pytest.approx(result.stats.aspect)
    assert values["features"] == pytest.approx(result.ood.distance)
    limit, refusal = analyzer.gate.limits["features"]
    assert limit < values["features"] <= refusal  # hence the caution
    assert result.caution is not None


def _features_refusal(distance: float = 25.0) -> OodVerdict:
    return OodVerdict(True, "image content is unlike the chest X-rays ...", distance,
                      if_frontal=f"features unlike the training films (distance {distance})")


def test_a_confident_view_check_turns_distance_refusals_into_cautions() -> None:
    sure = OodVerdict(False, None, values={"frontal_probability": 0.995})
    combined = Gate.combine(PASS, sure, PASS, _features_refusal(), confident_frontal=0.99)
    assert not combined.out_of_distribution
    assert combined.caution == (
        "unusual film: far from the training films (features unlike the training films "
        "(distance 25.0)), but the view check is sure it is a whole frontal film (100%): "
        "read with care")


@pytest.mark.parametrize(
    ("image", "frontal", "features", "confident"),
    [
        (PASS, 0.95, _features_refusal(), 0.99),       # the view check is not sure enough
        (PASS, 0.995, _features_refusal(), None),      # the card has no confident threshold
        (OodVerdict(True, "colour image"), 0.995, _features_refusal(), 0.99),  # image checks
        (PASS, 0.995, OodVerdict(True, "old card: no refusal limit"), 0.99),   # no if_frontal
    ],
)
def test_what_a_confident_view_check_does_not_vouch_for(
        image: OodVerdict, frontal: float, features: OodVerdict, confident: float | None
) -> None:
    view = OodVerdict(False, None, values={"frontal_probability": frontal})
    assert Gate.combine(image, view, PASS, features, confident_frontal=confident
                        ).out_of_distribution


def test_feature_refusals_carry_the_caution_they_would_become() -> None:
    gate, features = fitted_gate()
    spec = copy.deepcopy(_spec_of(gate))
    far = features[:1] + 50.0
    spec["refusal_limits"] = {"features": spec["distance_threshold"] * 1.1}
    verdict = OodGate(spec).check_features(far)[0]
    assert verdict.out_of_distribution
    assert verdict.if_frontal.startswith("features unlike the training films (distance ")


def test_a_film_the_image_checks_refuse_still_carries_every_checks_value(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    """Site calibration needs them; the refusal and its reason stay the image check's."""
    from PIL import Image

    from desktop_app.core.classify.analysis import Analyzer
    from desktop_app.core.model.model_bundle import load_bundle

    path = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (200, 160, 3), dtype=np.uint8)).save(path)
    (result,) = Analyzer(load_bundle(tiny_bundle)).analyse([path])
    assert result.out_of_distribution
    assert result.ood.reason.startswith("colour image")
    assert {"layout", "features", "colourfulness", "frontal_probability"} <= set(
        result.ood.values)
