"""The same X-ray stored in any supported way must give (nearly) the same probabilities.

Runs the real bundled model through the real classify path (loader, preprocessing, LiteRT)
on every variant written by :func:`tests.image_factory.write_format_variants`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.errors import ModelBundleError
from desktop_app.core.locations import bundled_model_dir
from desktop_app.core.model.model_bundle import load_bundle
from tests.image_factory import VARIANT_SPECS, synthetic_cxr, write_format_variants

# Largest allowed difference of any class probability from the 8-bit PNG's. Lossless variants
# differ only by float rounding in the intensity mapping; lossy ones (JPEG/WebP q95, JPEG 2000)
# by compression noise.
LOSSLESS_TOLERANCE = 0.01
LOSSY_TOLERANCE = 0.04


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    try:
        bundle = load_bundle(bundled_model_dir())
    except ModelBundleError as error:
        pytest.fail(f"the bundled model must ship with the source: {error}")
    return Analyzer(bundle)


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_format_variants(synthetic_cxr(seed=3), tmp_path_factory.mktemp("variants"))


def test_every_variant_gives_the_same_probabilities(
    analyzer: Analyzer, variants: dict[str, Path]
) -> None:
    names = sorted(variants)
    results = dict(zip(names, analyzer.analyse([variants[n] for n in names]), strict=True))
    reference = results["png8"]
    assert reference.ok, reference.error
    ref_probs = np.array(list(reference.probabilities.values()))
    failures = []
    for name, result in results.items():
        assert result.ok, f"{name}: {result.error}"
        probs = np.array(list(result.probabilities.values()))
        tolerance = LOSSLESS_TOLERANCE if VARIANT_SPECS[name].exact else LOSSY_TOLERANCE
        difference = float(np.abs(probs - ref_probs).max())
        if difference > tolerance:
            failures.append(f"{name}: max |dp| {difference:.4f} > {tolerance}")
        assert result.out_of_distribution == reference.out_of_distribution, name
    assert not failures, failures
