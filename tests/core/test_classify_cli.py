from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.__main__ import main
from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.cli.classify_cli import run_classify
from desktop_app.core.cli.self_test import run_self_test

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORD_KEYS = {"path", "ok", "label", "probabilities", "out_of_distribution", "ood_reason",
               "caution", "model", "age_group", "patient_age_years", "age_source",
               "decision_reason", "thresholds"}


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "inbox"
    (folder / "nested").mkdir(parents=True)
    paths = {
        "xray": folder / "a_xray.png",
        "nested": folder / "nested" / "b_xray.jpg",
        "noise": folder / "c_colour_noise.png",
        "notes": folder / "notes.txt",
    }
    Image.fromarray(synthetic_radiograph(seed=1)).save(paths["xray"])
    Image.fromarray(synthetic_radiograph(seed=2)).save(paths["nested"], quality=92)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(paths["noise"])
    paths["notes"].write_text("not an image\n")
    return paths


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_classify(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_json_records_follow_the_contract(tiny_bundle: Path, images: dict[str, Path]) -> None:
    code, out, err = run(["--json", "--model", str(tiny_bundle), str(images["xray"].parent)])
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [Path(r["path"]).name for r in records] == ["a_xray.png", "c_colour_noise.png",
                                                        "b_xray.jpg"]
    for record in records:
        assert set(record) == RECORD_KEYS
        assert record["ok"] is True
        assert record["model"] == "tiny-test-model-0"
        assert set(record["probabilities"]) == {"Normal", "Pneumonia", "COVID-19"}
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    noise = records[1]
    assert noise["out_of_distribution"] is True
    assert noise["label"] is None
    assert "colour" in noise["ood_reason"]
    xray = records[0]
    assert xray["out_of_distribution"] is False
    assert xray["label"] in {"Normal", "Pneumonia", "COVID-19"}
    assert xray["ood_reason"] is None
    assert xray["caution"] is None
    assert noise["caution"] is None
    assert "1 non-image file(s) in folders skipped" in err


def test_explicit_bad_files_get_an_error_record_and_exit_1(
    tiny_bundle: Path, images: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "gone.png"
    code, out, _ = run(["--json", "--model", str(tiny_bundle), str(images["xray"]),
                        str(images["notes"]), str(missing)])
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0]["ok"] is True
    assert records[1] == {"path": str(images["notes"]), "ok": False,
                          "error": records[1]["error"]}
    assert "not an image" in records[1]["error"]
    assert records[2]["ok"] is False
    assert "not found" in records[2]["error"]


def test_table_output_names_files_and_the_disclaimer(
    tiny_bundle: Path, images: dict[str, Path]
) -> None:
    code, out, _ = run(["--model", str(tiny_bundle), str(images["xray"]), str(images["noise"])])
    assert code == 0
    assert "a_xray.png" in out
    assert "NOT A CXR?" in out
    assert "decision support, not a diagnosis" in out
    assert "2 file(s): 2 analysed (1 not labelled" in out


def test_a_cautioned_film_keeps_its_label_and_says_why(
    tiny_caution_bundle: Path, images: dict[str, Path]
) -> None:
    code, out, err = run(["--json", "--model", str(tiny_caution_bundle), str(images["xray"]),
                          str(images["noise"])])
    assert code == 0, err
    xray, noise = (json.loads(line) for line in out.splitlines())
    assert xray["out_of_distribution"] is False
    assert xray["label"] in {"Normal", "Pneumonia", "COVID-19"}
    assert xray["caution"].startswith("unusual film: features unlike the training films")
    assert xray["caution"].endswith(": read with care")
    assert noise["out_of_distribution"] is True
    assert noise["label"] is None
    assert noise["caution"] is None
    assert "1 labelled with a caution" in err

    code, out, _ = run(["--model", str(tiny_caution_bundle), str(images["xray"])])
    assert code == 0
    row = next(line for line in out.splitlines() if "a_xray.png" in line)
    assert xray["label"] in row
    assert "CAUTION: unusual film: features unlike the training films" in row
    assert "(0 not labelled: out of distribution; 1 labelled with a caution" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["classify"])
    assert excinfo.value.code == 2
    with pytest.raises(SystemExit) as excinfo:
        main(["classify", "--bogus", "x.png"])
    assert excinfo.value.code == 2


def test_unloadable_model_exits_1(images: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = run(["--model", str(tmp_path / "no-model"), str(images["xray"])])
    assert code == 1
    assert "cannot load the model" in err


def test_empty_folder_exits_1(tiny_bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run(["--model", str(tiny_bundle), str(tmp_path / "empty")])
    assert code == 1
    assert "no image files" in err


def test_classify_path_never_imports_tensorflow(
    tiny_bundle: Path, images: dict[str, Path]
) -> None:
    code = (
        "import sys\n"
        "from desktop_app.__main__ import main\n"
        f"status = main(['classify', '--json', '--model', {str(tiny_bundle)!r}, "
        f"{str(images['xray'])!r}])\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "print('HEAVY', loaded, file=sys.stderr)\n"
        "sys.exit(status or (3 if loaded else 0))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["ok"] is True


def test_self_test_passes_on_a_valid_bundle(tiny_bundle: Path) -> None:
    out = io.StringIO()
    assert run_self_test(out, model_dir=tiny_bundle) == 0
    assert "SELF-TEST PASSED" in out.getvalue()


def test_self_test_fails_on_a_damaged_bundle(tiny_bundle: Path, tmp_path: Path) -> None:
    import shutil

    broken = Path(shutil.copytree(tiny_bundle, tmp_path / "broken"))
    (broken / "model.tflite").write_bytes(b"junk")
    out = io.StringIO()
    assert run_self_test(out, model_dir=broken) == 1
    assert "SELF-TEST FAILED" in out.getvalue()
    assert "sha256" in out.getvalue()
