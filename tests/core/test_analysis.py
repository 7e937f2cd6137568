from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.classify.analysis import Analyzer, expand_inputs
from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.model.model_bundle import load_bundle


@pytest.fixture(scope="module")
def analyzer(tiny_bundle: Path) -> Analyzer:
    return Analyzer(load_bundle(tiny_bundle))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for index in range(10):
        Image.fromarray(synthetic_radiograph(seed=index)).save(tmp_path / f"img_{index:02d}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (tmp_path / ".hidden.png").write_bytes(b"whatever")
    (tmp_path / "readme.txt").write_text("hello")
    return tmp_path


def test_expand_inputs_finds_images_by_content_and_skips_the_rest(folder: Path) -> None:
    expanded = expand_inputs([folder])
    names = [p.name for p in expanded.files]
    assert names == ["broken.png"] + [f"img_{i:02d}.png" for i in range(10)]
    assert [p.name for p in expanded.skipped] == ["readme.txt"]


def test_results_come_in_input_order_with_errors_in_place(
    analyzer: Analyzer, folder: Path
) -> None:
    files = expand_inputs([folder]).files
    progress: list[tuple[int, int]] = []
    results = list(analyzer.analyse(files, batch_size=4,
                                    progress=lambda d, t: progress.append((d, t))))
    assert [r.path for r in results] == files
    assert not results[0].ok
    assert "broken.png" not in results[0].error  # the reason, the path is separate
    assert results[0].to_json()["ok"] is False
    assert all(r.ok for r in results[1:])
    assert progress[-1] == (11, 11)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    good = results[1]
    assert good.loaded is None  # folders don't keep full-resolution pixels
    assert good.prepared.array.shape == (32, 32)
    assert good.cams.shape[-1] == 3


def test_cancel_stops_after_the_current_batch(analyzer: Analyzer, folder: Path) -> None:
    files = expand_inputs([folder]).files
    seen: list[int] = []
    results = list(analyzer.analyse(
        files, batch_size=2, workers=1,
        progress=lambda d, _t: seen.append(d), cancelled=lambda: bool(seen),
    ))
    assert 1 <= len(results) < len(files)
    assert [r.path for r in results] == files[: len(results)]


def test_analyse_one_keeps_the_pixels_for_display(analyzer: Analyzer, folder: Path) -> None:
    result = analyzer.analyse_one(folder / "img_03.png")
    assert result.loaded is not None
    assert result.loaded.pixels.shape == (384, 320)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.decision is not None
    assert result.label == result.decision.label


def test_greyscale_text_document_is_refused_before_labelling(
    analyzer: Analyzer, tmp_path: Path
) -> None:
    page = np.full((400, 300), 255, np.uint8)
    page[40:360:20, 30:270] = 0  # lines of "text"
    Image.fromarray(page).save(tmp_path / "page.png")
    result = analyzer.analyse_one(tmp_path / "page.png")
    assert result.ok
    assert result.out_of_distribution
    assert result.label is None
    assert result.to_json()["label"] is None


def test_queued_images_do_not_hold_full_resolution_pixels(
    analyzer: Analyzer, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to two batches wait in the pipeline; only their model inputs may be kept.

    A folder of 3,000 px DICOMs would otherwise hold ~36 MB per queued image.
    """
    queued = []
    prepare = Analyzer._prepare

    def spy(self: Analyzer, path: Path, keep_loaded: bool,  # type: ignore[no-untyped-def]
            full_resolution: bool = True):
        item = prepare(self, path, keep_loaded, full_resolution)
        queued.append(item)
        return item

    monkeypatch.setattr(Analyzer, "_prepare", spy)
    files = expand_inputs([folder]).files
    list(analyzer.analyse(files, batch_size=4))
    readable = [item for item in queued if item.error is None]
    assert len(readable) == 10
    assert all(item.loaded is None and item.prepared is not None for item in readable)
    kept = analyzer.analyse_one(files[1])
    assert kept.loaded is not None


def test_a_lung_framed_model_sees_the_lung_box_of_each_film(
    tiny_lung_bundle: Path, tmp_path: Path
) -> None:
    from desktop_app.core.classify.lung_fields import LungSegmenter, load_lung_segmenter

    pixels = synthetic_radiograph(seed=3)
    path = tmp_path / "film.png"
    Image.fromarray(pixels).save(path)
    analyzer = Analyzer(load_bundle(tiny_lung_bundle))
    result = analyzer.analyse_one(path)
    assert result.ok
    expected = LungSegmenter(load_lung_segmenter()).find_box(
        result.loaded.pixels, analyzer.card.preprocessing.lung_margin)
    assert expected is not None
    # The heat map's source box is the lung box, in the original film's coordinates.
    assert result.prepared.source_box == expected
    height, width = pixels.shape
    left, top, right, bottom = expected
    assert (right - left) * (bottom - top) < 0.95 * width * height
    # Batch and single-file paths frame the film the same way.
    batch = next(iter(analyzer.analyse([path], batch_size=4)))
    np.testing.assert_allclose(batch.prepared.array, result.prepared.array, atol=1e-6)


def test_a_film_without_lungs_is_refused_with_the_reason(
    tiny_lung_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop_app.core.classify.analysis import NO_LUNGS_REASON
    from desktop_app.core.classify.lung_fields import LungSegmenter

    path = tmp_path / "film.png"
    Image.fromarray(synthetic_radiograph(seed=4)).save(path)
    analyzer = Analyzer(load_bundle(tiny_lung_bundle))
    assert not analyzer.analyse_one(path).out_of_distribution
    # When the segmenter finds no lungs the film is not classified, and the reason says why.
    monkeypatch.setattr(LungSegmenter, "find_box", lambda self, pixels, margin: None)
    result = analyzer.analyse_one(path)
    assert result.ok
    assert result.out_of_distribution
    assert result.label is None
    assert result.ood.reason == NO_LUNGS_REASON


def test_a_model_naming_another_lung_segmenter_is_refused(
    tiny_lung_bundle: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    from desktop_app.core.errors import ModelBundleError
    from desktop_app.core.model.model_card import CARD_FILE

    copy = tmp_path / "model"
    shutil.copytree(tiny_lung_bundle, copy)
    card = json.loads((copy / CARD_FILE).read_text(encoding="utf-8"))
    card["preprocessing"]["lung_segmenter"] = "lunglens-lungs-19990101-000000"
    (copy / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelBundleError, match="lunglens-lungs-19990101-000000"):
        Analyzer(load_bundle(copy))
