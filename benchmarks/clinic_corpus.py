"""Generate a clinic-size benchmark corpus from the dataset's films (never committed).

``python benchmarks/clinic_corpus.py OUT_DIR [-n 500] [--images DIR] [--seed 0]``

The dataset's files are small (median 224 px, 8-bit JPEG/PNG); what a clinic exports is
2,000-3,000 px, 12-16-bit, and mostly DICOM. This script upscales dataset films to that size
(bicubic, plus a little detector-like noise below the 8-bit steps so that lossless codecs
work as hard as on real data) and writes them in the codecs of a CR/DX export, in a mix that
resembles one (:data:`MIX`):

============================  ==========================================================
``dicom_raw_mono2``           DICOM Explicit VR Little Endian, 16 bits allocated, 12 stored,
                              MONOCHROME2, rescale and window
``dicom_raw_mono1``           the same, MONOCHROME1 (low values white, as many CR readers)
``dicom_jpeg_baseline``       DICOM JPEG Baseline (1.2.840.10008.1.2.4.50), 8-bit, q90
``dicom_j2k_lossless``        DICOM JPEG 2000 Lossless (.4.90), 12 stored bits (OpenJPEG
                              through pydicom / pylibjpeg-openjpeg)
``dicom_jpeg_lossless``       DICOM JPEG Lossless SV1 (.4.70), 12 stored bits. pydicom has
                              no encoder for it and no installed library writes it, so
                              :func:`encode_jpeg_lossless` below writes the stream (process 14,
                              predictor 1, one Huffman table); pylibjpeg-libjpeg decodes it
``png16``                     16-bit grayscale PNG (12-bit values scaled to 16)
``jpeg``                      8-bit JPEG, q90
============================  ==========================================================

Nothing identifying is written (patient name "ANONYMOUS", generated UIDs). The output
folder holds one sub-folder per codec and a ``corpus.json`` manifest.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.imaging import load_image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = REPO.parent / "shared" / "datasets" / "cxr" / "images"

#: Share of each codec in the corpus: mostly uncompressed DICOM (the default of most CR/DX
#: exports), then the compressed syntaxes PACS archives use, and some plain image exports.
MIX: dict[str, float] = {
    "dicom_raw_mono2": 0.25,
    "dicom_raw_mono1": 0.10,
    "dicom_jpeg_baseline": 0.15,
    "dicom_j2k_lossless": 0.15,
    "dicom_jpeg_lossless": 0.10,
    "png16": 0.10,
    "jpeg": 0.15,
}
#: Long side of the generated films, drawn uniformly (CR plates 2,000-3,000 px at 0.1-0.15 mm).
LONG_SIDE = (2000, 3000)
STORED_BITS = 12
RESCALE_SLOPE, RESCALE_INTERCEPT = 1.0, -1024.0
DX_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def counts_for(total: int) -> dict[str, int]:
    """Files per codec for ``total`` files (largest remainders get the rounding)."""
    raw = {name: share * total for name, share in MIX.items()}
    counts = {name: int(value) for name, value in raw.items()}
    for name in sorted(raw, key=lambda n: raw[n] - counts[n], reverse=True):
        if sum(counts.values()) >= total:
            break
        counts[name] += 1
    return counts


def encode_jpeg_lossless(stored: np.ndarray, precision: int, chunk: int = 1 << 19) -> bytes:
    """Encode one grayscale frame as lossless JPEG (ITU T.81 process 14, predictor 1).

    The same stream layout as ``tests/image_factory.encode_jpeg_lossless`` (one Huffman table
    coding the 17 difference categories with 5-bit codes), with the bit stream built in
    chunks so that a 3,000 px frame needs tens of MB instead of gigabytes.
    """
    values = stored.astype(np.int64)
    rows, cols = values.shape
    prediction = np.empty_like(values)
    prediction[0, 0] = 1 << (precision - 1)
    prediction[0, 1:] = values[0, :-1]
    prediction[1:, 0] = values[:-1, 0]
    prediction[1:, 1:] = values[1:, :-1]
    diff = ((values - prediction + 32768) % 65536 - 32768).ravel()
    del values, prediction
    magnitude = np.abs(diff)
    category = np.zeros_like(diff)
    nonzero = magnitude > 0
    category[nonzero] = np.floor(np.log2(magnitude[nonzero])).astype(np.int64) + 1
    extra = np.where(diff >= 0, diff, diff + (1 << category) - 1) & ((1 << category) - 1)
    extra[category == 16] = 0
    extra_bits = np.where(category == 16, 0, category)
    lengths = 5 + extra_bits
    codes = (category << extra_bits) | extra
    positions = np.arange(21)
    pieces: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.uint8)
    for start in range(0, codes.size, chunk):
        code, length = codes[start:start + chunk], lengths[start:start + chunk]
        shift = length[:, None] - 1 - positions[None, :]
        bits = ((code[:, None] >> np.maximum(shift, 0)) & 1)[shift >= 0].astype(np.uint8)
        bits = np.concatenate([carry, bits])
        whole = bits.size - bits.size % 8
        pieces.append(np.packbits(bits[:whole]))
        carry = bits[whole:]
    if carry.size:
        pieces.append(np.packbits(np.concatenate([carry, np.ones(8 - carry.size, np.uint8)])))
    data = np.concatenate(pieces)
    data = np.insert(data, np.flatnonzero(data == 0xFF) + 1, 0)  # byte stuffing

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    counts = bytearray(16)
    counts[4] = 17
    sof3 = (bytes([precision]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big")
            + bytes([1, 1, 0x11, 0]))
    dht = bytes([0x00]) + bytes(counts) + bytes(range(17))
    sos = bytes([1, 1, 0x00, 1, 0, 0])
    return (b"\xff\xd8" + segment(0xC3, sof3) + segment(0xC4, dht) + segment(0xDA, sos)
            + data.tobytes() + b"\xff\xd9")


def _dicom(stored: np.ndarray, *, photometric: str, bits_stored: int, seed: int) -> object:
    """A native DX data set around ``stored`` with rescale and a full-range window."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rows, cols = stored.shape
    allocated = 8 if bits_stored <= 8 else 16
    uid = generate_uid(entropy_srcs=[f"lunglens-clinic-corpus-{seed}-{photometric}"])
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DX_IMAGE_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = DX_IMAGE_STORAGE, uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[f"lunglens-clinic-study-{seed}"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[f"lunglens-clinic-series-{seed}"])
    ds.PatientName, ds.PatientID = "ANONYMOUS", f"CORPUS{seed:05d}"
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "DX", "CHEST", "PA"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 0
    if bits_stored > 8:
        low, high = float(stored.min()), float(stored.max())
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = (
            RESCALE_SLOPE, RESCALE_INTERCEPT, "US")
        low = low * RESCALE_SLOPE + RESCALE_INTERCEPT
        high = high * RESCALE_SLOPE + RESCALE_INTERCEPT
        ds.WindowCenter, ds.WindowWidth = f"{(low + high) / 2 + 0.5:.6g}", f"{high - low + 1:.6g}"
    ds.PixelData = np.ascontiguousarray(stored, dtype=f"<u{allocated // 8}").tobytes()
    return ds


def _encapsulated(ds: object, frame: bytes, syntax: str) -> object:
    from pydicom.encaps import encapsulate

    ds.PixelData = encapsulate([frame])  # type: ignore[attr-defined]
    ds["PixelData"].VR = "OB"  # type: ignore[index]
    ds.file_meta.TransferSyntaxUID = syntax  # type: ignore[attr-defined]
    return ds


def _film(source: Path, long_side: int, rng: np.random.Generator) -> np.ndarray:
    """A dataset film upscaled to ``long_side``, as 12-bit values with fine detector noise."""
    pixels = load_image(source).pixels
    height, width = pixels.shape
    scale = long_side / max(height, width)
    size = (round(width * scale), round(height * scale))
    big = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BICUBIC))
    values = np.clip(big, 0.0, 1.0) * ((1 << STORED_BITS) - 64) + 32
    values += rng.normal(0.0, 6.0, size=values.shape)  # quantum noise below the 8-bit step
    return np.clip(np.rint(values), 0, (1 << STORED_BITS) - 1).astype(np.uint16)


def write_file(codec: str, stored: np.ndarray, folder: Path, stem: str, seed: int) -> Path:
    """Write one 12-bit film in ``codec``; return the file."""
    from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, JPEGLosslessSV1

    eight = (stored >> (STORED_BITS - 8)).astype(np.uint8)
    if codec == "jpeg":
        path = folder / f"{stem}.jpg"
        Image.fromarray(eight).save(path, "JPEG", quality=90)
        return path
    if codec == "png16":
        path = folder / f"{stem}.png"
        Image.fromarray((stored << (16 - STORED_BITS)).astype(np.uint16)).save(path, "PNG")
        return path
    path = folder / f"{stem}.dcm"
    if codec in ("dicom_raw_mono2", "dicom_raw_mono1"):
        photometric = "MONOCHROME2"
        if codec.endswith("mono1"):
            stored = ((1 << STORED_BITS) - 1 - stored).astype(np.uint16)
            photometric = "MONOCHROME1"
        ds = _dicom(stored, photometric=photometric, bits_stored=STORED_BITS, seed=seed)
    elif codec == "dicom_jpeg_baseline":
        buffer = io.BytesIO()
        Image.fromarray(eight).save(buffer, "JPEG", quality=90)
        ds = _encapsulated(_dicom(eight, photometric="MONOCHROME2", bits_stored=8, seed=seed),
                           buffer.getvalue(), JPEGBaseline8Bit)
    elif codec == "dicom_j2k_lossless":
        ds = _dicom(stored, photometric="MONOCHROME2", bits_stored=STORED_BITS, seed=seed)
        ds.compress(JPEG2000Lossless)  # type: ignore[attr-defined]
    elif codec == "dicom_jpeg_lossless":
        ds = _encapsulated(
            _dicom(stored, photometric="MONOCHROME2", bits_stored=STORED_BITS, seed=seed),
            encode_jpeg_lossless(stored, STORED_BITS), JPEGLosslessSV1)
    else:
        raise ValueError(f"unknown codec {codec!r}; known: {sorted(MIX)}")
    ds.save_as(path, enforce_file_format=True)  # type: ignore[attr-defined]
    return path


def generate(out: Path, total: int, images: Path, seed: int = 0) -> dict[str, list[Path]]:
    """Write ``total`` files into ``out/<codec>/``; return the files per codec."""
    sources = sorted(p for p in images.iterdir() if p.is_file())
    if not sources:
        raise SystemExit(f"error: no images in {str(images)!r}")
    rng = np.random.default_rng(seed)
    step = max(1, len(sources) // total)
    chosen = sources[::step]
    files: dict[str, list[Path]] = {}
    index = 0
    for codec, count in counts_for(total).items():
        folder = out / codec
        folder.mkdir(parents=True, exist_ok=True)
        files[codec] = []
        for _ in range(count):
            source = chosen[index % len(chosen)]
            long_side = int(rng.integers(LONG_SIDE[0], LONG_SIDE[1] + 1))
            stored = _film(source, long_side, rng)
            files[codec].append(write_file(codec, stored, folder, f"{index:04d}", seed + index))
            index += 1
        print(f"{codec:<22} {count:>4} files", file=sys.stderr)
    manifest = {codec: [str(p.relative_to(out)) for p in paths] for codec, paths in files.items()}
    (out / "corpus.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return files


def read_manifest(folder: Path) -> dict[str, list[Path]]:
    """Files per codec of a corpus written by :func:`generate`."""
    manifest = json.loads((folder / "corpus.json").read_text(encoding="utf-8"))
    return {codec: [folder / name for name in names] for codec, names in manifest.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path,
                        help="output folder (default: a new temporary folder)")
    parser.add_argument("-n", type=int, default=500, help="number of files (default 500)")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES,
                        help="dataset images to upscale")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="lunglens-clinic-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    files = generate(out, args.n, args.images, args.seed)
    size = sum(p.stat().st_size for paths in files.values() for p in paths)
    print(f"{sum(map(len, files.values()))} files, {size / 1e6:.0f} MB in {out} "
          f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
