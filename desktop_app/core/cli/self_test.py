"""``--self-test``: prove an installation works without opening a window.

Loads the bundled model (hashes verified), classifies an X-ray-like image it generates and
a colour-noise image, and checks the answers are well formed and that the colour image is
refused by the out-of-distribution gate. Used by the packaged executable's smoke test.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import numpy as np
from PIL import Image

from desktop_app import __version__
from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.cli.model_choice import resolve_model
from desktop_app.core.errors import LungLensError

__all__ = ["run_self_test"]


def run_self_test(stdout: TextIO | None = None, model_dir: Path | None = None) -> int:
    """Run the self-test; print what was checked; return 0 on success, 1 on failure."""
    out = stdout or sys.stdout
    start = time.perf_counter()
    try:
        bundle = resolve_model(model_dir, fallback="bundled").bundle
        print(f"LungLens {__version__}: model {bundle.model_id} verified (sha256 of "
              f"{', '.join(sorted(bundle.card.files))})", file=out)
        analyzer = Analyzer(bundle)
        with tempfile.TemporaryDirectory(prefix="lunglens-self-test-") as folder:
            xray = Path(folder) / "synthetic_radiograph.png"
            Image.fromarray(synthetic_radiograph()).save(xray)
            noise = Path(folder) / "colour_noise.png"
            rng = np.random.default_rng(1)
            Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)).save(noise)
            results = list(analyzer.analyse([xray, noise]))
        for result in results:
            if not result.ok:
                raise LungLensError(f"could not analyse {result.path.name}: {result.error}")
            probs = np.array(list(result.probabilities.values()))
            if not (np.all(np.isfinite(probs)) and abs(probs.sum() - 1.0) < 1e-4):
                raise LungLensError(f"invalid probabilities for {result.path.name}: {probs}")
            state = "out of distribution" if result.out_of_distribution else result.label
            print(f"  {result.path.name}: {state}; "
                  + ", ".join(f"{k} {v:.3f}" for k, v in result.probabilities.items()), file=out)
        if not results[1].out_of_distribution:
            raise LungLensError("the out-of-distribution gate did not refuse colour noise")
    except LungLensError as error:
        print(f"SELF-TEST FAILED: {error}", file=out)
        return 1
    print(f"SELF-TEST PASSED in {time.perf_counter() - start:.2f} s", file=out)
    return 0
