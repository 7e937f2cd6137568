"""Photos: scikit-image's and matplotlib's bundled sample photos, whole and cropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from model_training.non_chest.drawing import Spec, crop, mpl_sample, save, skimage_file

# Photos that scikit-image ships inside its wheel (read as files: never through pooch, which
# could try the network for the images it does not ship).
_SKIMAGE_COLOUR = (
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
    "ihc.png", "motorcycle_left.png",
)


_SKIMAGE_GRAY = (
    "camera.png", "moon.png", "coins.png", "horse.png", "brick.png", "grass.png", "gravel.png",
    "cell.png", "clock_motion.png",
)


_MPL_COLOUR = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")


def photo_colour_specs() -> Iterator[Spec]:
    """Colour photos (scikit-image and matplotlib samples) and their crops."""
    sources = [(n, skimage_file(n), "scikit-image sample") for n in _SKIMAGE_COLOUR]
    sources += [(n, mpl_sample(n), "matplotlib sample") for n in _MPL_COLOUR]
    for name, file, origin in sources:
        stem = Path(name).stem

        def full(path: Path, file: Path = file) -> None:
            save(Image.open(file).convert("RGB"), path)

        def square(path: Path, file: Path = file) -> None:
            save(crop(Image.open(file).convert("RGB"), "square"), path, quality=85)

        def portrait(path: Path, file: Path = file) -> None:
            save(crop(Image.open(file).convert("RGB"), "portrait"), path, quality=90)

        yield Spec(f"{stem}.png", f"colour photo {name} ({origin})", stem, full)
        yield Spec(f"{stem}_square.jpg", f"colour photo {name}, square crop", stem, square)
        yield Spec(f"{stem}_portrait.jpg", f"colour photo {name}, 4:5 crop upscaled", stem,
                   portrait)


def photo_gray_specs() -> Iterator[Spec]:
    """Grayscale photos (scikit-image samples) and their crops."""
    sources = [(n, skimage_file(n), "scikit-image sample") for n in _SKIMAGE_GRAY]
    sources += [(n, skimage_file(n), "scikit-image colour sample") for n in _SKIMAGE_COLOUR]
    sources += [(n, mpl_sample(n), "matplotlib sample") for n in _MPL_COLOUR]
    for position, (name, file, origin) in enumerate(sources):
        stem = Path(name).stem

        def full(path: Path, file: Path = file) -> None:
            save(Image.open(file).convert("L"), path)

        def portrait(path: Path, file: Path = file, invert: bool = position % 3 == 0) -> None:
            image = crop(Image.open(file).convert("L"), "portrait")
            if invert:  # a negative, as a film would look
                image = Image.eval(image, lambda v: 255 - v)
            save(image, path, quality=90)

        yield Spec(f"{stem}_gray.png", f"grayscale photo {name} ({origin})", stem, full)
        yield Spec(f"{stem}_gray_portrait.jpg",
                   f"grayscale photo {name}, 4:5 crop upscaled"
                   + (", inverted" if position % 3 == 0 else ""), stem, portrait)
