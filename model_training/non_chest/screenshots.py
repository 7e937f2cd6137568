"""Application windows drawn with Pillow (the core may not import Qt).

Message boxes, result tables, spreadsheets, forms, trees, logs, progress, calendar, viewer
and wizard, in a light and a dark theme.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from desktop_app.core.classify.synthetic import synthetic_radiograph
from model_training.non_chest.drawing import Spec, dejavu_font, save


@dataclass(frozen=True)
class _Theme:
    """Colours of a drawn desktop theme.

    The screenshots are drawn, not grabbed: the core may not import Qt, and a drawing is the
    same on every machine.
    """

    window: tuple[int, int, int]
    title: tuple[int, int, int]
    title_text: tuple[int, int, int]
    text: tuple[int, int, int]
    base: tuple[int, int, int]  # text fields, tables, lists
    alternate: tuple[int, int, int]  # every other table row
    border: tuple[int, int, int]
    button: tuple[int, int, int]
    accent: tuple[int, int, int]  # selection, progress, default button
    muted: tuple[int, int, int]  # secondary text


_LIGHT = _Theme(window=(239, 239, 239), title=(222, 226, 232), title_text=(30, 30, 30),
                text=(20, 20, 20), base=(255, 255, 255), alternate=(245, 247, 250),
                border=(180, 180, 186), button=(228, 228, 230), accent=(48, 110, 210),
                muted=(110, 110, 118))


_DARK = _Theme(window=(43, 43, 43), title=(32, 34, 37), title_text=(225, 225, 225),
               text=(224, 224, 224), base=(30, 30, 30), alternate=(38, 40, 43),
               border=(85, 85, 90), button=(60, 63, 65), accent=(47, 101, 202),
               muted=(150, 150, 156))


_MENUS = ("File", "Edit", "View", "Tools", "Help")


_CLASSES = ("Normal", "Pneumonia", "COVID-19")


def _mono(size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSansMono.ttf"
    return ImageFont.truetype(str(path), size)


class _Canvas:
    """A window drawn with Pillow: frame, title bar and optional menu bar, then widgets."""

    def __init__(self, size: tuple[int, int], title: str, theme: _Theme, *,
                 menus: Sequence[str] = (), dialog: bool = False) -> None:
        self.theme = theme
        self.image = Image.new("RGB", size, theme.window)
        self.draw = ImageDraw.Draw(self.image)
        self.font = dejavu_font(12)
        width, height = size
        bar = 26 if dialog else 30
        self.draw.rectangle((0, 0, width - 1, bar), fill=theme.title)
        self.draw.text((12 if dialog else 40, bar // 2), title, font=dejavu_font(13, bold=True),
                       fill=theme.title_text, anchor="lm")
        if not dialog:  # application icon
            self.draw.rounded_rectangle((10, 7, 26, 23), 3, fill=theme.accent)
        for k, colour in enumerate(((220, 80, 70), theme.muted, theme.muted)):
            x = width - 20 - 26 * k
            if k == 0:
                self.draw.line((x - 5, bar // 2 - 5, x + 5, bar // 2 + 5), fill=colour, width=2)
                self.draw.line((x - 5, bar // 2 + 5, x + 5, bar // 2 - 5), fill=colour, width=2)
            elif k == 1:
                self.draw.rectangle((x - 5, bar // 2 - 5, x + 5, bar // 2 + 5), outline=colour)
            else:
                self.draw.line((x - 5, bar // 2 + 4, x + 5, bar // 2 + 4), fill=colour, width=2)
        self.top = bar + 1
        if menus:
            x = 10
            for name in menus:
                self.draw.text((x, self.top + 11), name, font=self.font, fill=theme.text,
                               anchor="lm")
                x += int(self.draw.textlength(name, font=self.font)) + 18
            self.top += 23
            self.draw.line((0, self.top, width, self.top), fill=theme.border)
            self.top += 1
        self.draw.rectangle((0, 0, width - 1, height - 1), outline=theme.border)

    def text(self, xy: tuple[int, int], value: str, *, bold: bool = False, size: int = 12,
             fill: tuple[int, int, int] | None = None, anchor: str = "la") -> None:
        self.draw.text(xy, value, font=dejavu_font(size, bold) if bold or size != 12 else self.font,
                       fill=fill or self.theme.text, anchor=anchor)

    def button(self, box: tuple[int, int, int, int], label: str, *,
               default: bool = False) -> None:
        theme = self.theme
        fill = theme.accent if default else theme.button
        self.draw.rounded_rectangle(box, 4, fill=fill, outline=theme.border)
        self.draw.text(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), label, font=self.font,
                       fill=(255, 255, 255) if default else theme.text, anchor="mm")

    def field(self, box: tuple[int, int, int, int], value: str, *, combo: bool = False,
              spin: bool = False) -> None:
        theme = self.theme
        self.draw.rectangle(box, fill=theme.base, outline=theme.border)
        self.draw.text((box[0] + 6, (box[1] + box[3]) // 2), value, font=self.font,
                       fill=theme.text, anchor="lm")
        if combo or spin:
            x = box[2] - 18
            self.draw.line((x, box[1], x, box[3]), fill=theme.border)
            mid = (box[1] + box[3]) // 2
            if combo:
                self.draw.polygon(((x + 5, mid - 2), (x + 13, mid - 2), (x + 9, mid + 3)),
                                  fill=theme.text)
            else:
                self.draw.polygon(((x + 5, mid - 3), (x + 13, mid - 3), (x + 9, box[1] + 3)),
                                  fill=theme.text)
                self.draw.polygon(((x + 5, mid + 3), (x + 13, mid + 3), (x + 9, box[3] - 3)),
                                  fill=theme.text)

    def toolbar(self, labels: Sequence[str]) -> None:
        x = 8
        for index, label in enumerate(labels):
            width = int(self.draw.textlength(label, font=self.font)) + 34
            box = (x, self.top + 4, x + width, self.top + 30)
            self.draw.rounded_rectangle(box, 3, fill=self.theme.button)
            icon = (self.theme.accent, (70, 160, 90), (200, 140, 40))[index % 3]
            self.draw.rectangle((x + 6, self.top + 10, x + 20, self.top + 24), fill=icon)
            self.draw.text((x + 25, self.top + 17), label, font=self.font, fill=self.theme.text,
                           anchor="lm")
            x += width + 6
        self.top += 35
        self.draw.line((0, self.top, self.image.width, self.top), fill=self.theme.border)
        self.top += 1

    def status(self, message: str) -> int:
        """Draw a status bar; returns its top (the bottom of the content area)."""
        top = self.image.height - 24
        self.draw.rectangle((1, top, self.image.width - 2, self.image.height - 2),
                            fill=self.theme.title)
        self.draw.text((10, top + 12), message, font=self.font, fill=self.theme.muted,
                       anchor="lm")
        return top

    def table(self, box: tuple[int, int, int, int], headers: Sequence[str],
              rows: Sequence[Sequence[str]], widths: Sequence[int], *,
              selected: int | None = None, numbers: bool = False) -> None:
        theme = self.theme
        left, top, right, bottom = box
        self.draw.rectangle(box, fill=theme.base, outline=theme.border)
        row_h = 22
        self.draw.rectangle((left + 1, top + 1, right - 1, top + row_h), fill=theme.button)
        offset = 34 if numbers else 0
        x = left + offset
        for header, width in zip(headers, widths, strict=True):
            self.draw.text((x + 6, top + row_h // 2 + 1), header, font=dejavu_font(12, bold=True),
                           fill=theme.text, anchor="lm")
            x += width
            self.draw.line((x, top, x, bottom), fill=theme.border)
        for index, row in enumerate(rows):
            y = top + row_h * (index + 1)
            if y + row_h > bottom:
                break
            fill = theme.accent if index == selected else (
                theme.alternate if index % 2 else theme.base)
            self.draw.rectangle((left + 1, y, right - 1, y + row_h), fill=fill)
            ink = (255, 255, 255) if index == selected else theme.text
            if numbers:
                self.draw.rectangle((left + 1, y, left + offset, y + row_h), fill=theme.button)
                self.draw.text((left + offset // 2, y + row_h // 2), str(index + 1),
                               font=self.font, fill=theme.text, anchor="mm")
            x = left + offset
            for value, width in zip(row, widths, strict=True):
                self.draw.text((x + 6, y + row_h // 2), value, font=self.font, fill=ink,
                               anchor="lm")
                x += width
            self.draw.line((left, y + row_h, right, y + row_h), fill=theme.border)


def _shot_message(theme: _Theme) -> Image.Image:
    canvas = _Canvas((440, 170), "LungLens", theme, dialog=True)
    draw = canvas.draw
    draw.polygon(((46, 52), (70, 94), (22, 94)), fill=(236, 170, 40))
    canvas.text((46, 80), "!", bold=True, size=22, fill=(30, 30, 30), anchor="mm")
    canvas.text((90, 50), "The model bundle could not be verified.", bold=True, size=13)
    canvas.text((90, 76), "sha256 of 'model.tflite' does not match the model card.")
    canvas.text((90, 96), "Reinstall the program or choose another model.", fill=theme.muted)
    canvas.button((250, 128, 330, 156), "Cancel")
    canvas.button((342, 128, 422, 156), "OK", default=True)
    return canvas.image


def _shot_table(theme: _Theme) -> Image.Image:
    rng = np.random.default_rng(0)
    canvas = _Canvas((660, 520), "LungLens - results", theme, menus=_MENUS)
    canvas.toolbar(("Open", "Classify", "Export"))
    rows = []
    for row in range(24):
        probs = rng.dirichlet([1, 1, 1])
        rows.append([f"image_{row:03d}.png", *(f"{p:.1%}" for p in probs),
                     _CLASSES[int(probs.argmax())]])
    bottom = canvas.status("24 images classified")
    canvas.table((8, canvas.top + 8, 652, bottom - 8),
                 ["File", "Normal", "Pneumonia", "COVID-19", "Result"], rows,
                 [170, 100, 100, 100, 120], selected=5)
    return canvas.image


def _shot_spreadsheet(theme: _Theme) -> Image.Image:
    rng = np.random.default_rng(4)
    canvas = _Canvas((720, 540), "audit_2026.xlsx - Spreadsheet", theme,
                     menus=(*_MENUS[:3], "Insert", "Format", "Data", "Help"))
    canvas.toolbar(("Save", "Sort", "Filter", "Chart"))
    canvas.text((12, canvas.top + 14), "fx", bold=True, anchor="lm")
    canvas.field((40, canvas.top + 4, 712, canvas.top + 26), "=AVERAGE(C2:C31)")
    canvas.top += 32
    rows = [[f"Site {r % 4 + 1}", f"{rng.normal(100, 30):.2f}", f"{rng.normal(50, 12):.1f}",
             f"{rng.integers(0, 40)}", f"{rng.random():.3f}"] for r in range(30)]
    bottom = canvas.status("Sum = 3,118.40   Average = 103.95")
    canvas.table((8, canvas.top, 712, bottom - 8), list("ABCDE"), rows,
                 [150, 130, 130, 110, 130], numbers=True)
    return canvas.image


def _shot_form(theme: _Theme) -> Image.Image:
    canvas = _Canvas((500, 330), "Training settings", theme, dialog=True)
    rows = [("Patient folder:", "/data/xrays/2026", "field"),
            ("Architecture:", "efficientnet-b0", "combo"),
            ("Epochs:", "20", "spin"),
            ("Augmentation:", "random rotation and contrast", "check"),
            ("Learning rate:", "", "slider")]
    y = canvas.top + 20
    for label, value, kind in rows:
        canvas.text((150, y + 11), label, anchor="rm")
        if kind == "check":
            canvas.draw.rectangle((162, y + 4, 176, y + 18), fill=theme.accent)
            canvas.draw.line((165, y + 11, 169, y + 15, 174, y + 6), fill=(255, 255, 255),
                             width=2)
            canvas.text((184, y + 11), value, anchor="lm")
        elif kind == "slider":
            canvas.draw.line((162, y + 11, 480, y + 11), fill=theme.border, width=4)
            canvas.draw.line((162, y + 11, 260, y + 11), fill=theme.accent, width=4)
            canvas.draw.ellipse((252, y + 3, 268, y + 19), fill=theme.base,
                                outline=theme.accent, width=2)
        else:
            canvas.field((160, y, 480, y + 24), value, combo=kind == "combo",
                         spin=kind == "spin")
        y += 40
    canvas.button((160, y + 6, 300, y + 36), "Start training", default=True)
    return canvas.image


def _shot_tree(theme: _Theme) -> Image.Image:
    canvas = _Canvas((500, 600), "Studies", theme, menus=_MENUS[:3])
    bottom = canvas.status("6 studies, 24 images")
    box = (8, canvas.top + 8, 492, bottom - 8)
    canvas.table(box, ["Name", "Size", "Modified"], [], [250, 100, 130])
    y = box[1] + 24
    for folder in range(6):
        if y > box[3] - 24:  # the rest is scrolled out of view
            break
        canvas.draw.polygon(((16, y + 6), (26, y + 6), (21, y + 13)), fill=theme.text)
        canvas.draw.rectangle((32, y + 5, 46, y + 16), fill=(222, 180, 80))
        canvas.text((52, y + 11), f"study_{folder:02d}", anchor="lm")
        canvas.text((364, y + 11), f"2026-12-0{folder + 1}",
                    anchor="lm")
        y += 22
        for child in range(4):
            if y > box[3] - 24:
                break
            canvas.draw.line((22, y - 8, 22, y + 11, 40, y + 11), fill=theme.border)
            canvas.draw.rectangle((46, y + 4, 58, y + 18), fill=theme.base,
                                  outline=theme.muted)
            canvas.text((64, y + 11), f"img_{child}.dcm", anchor="lm")
            canvas.text((264, y + 11), f"{(child + 3) * 417} KB", anchor="lm")
            y += 22
    return canvas.image


def _shot_log(theme: _Theme) -> Image.Image:
    canvas = _Canvas((700, 500), "lunglens.log - Log viewer", theme, menus=_MENUS[:3])
    bottom = canvas.status("Line 40, column 1")
    canvas.draw.rectangle((8, canvas.top + 8, 692, bottom - 8), fill=theme.base,
                          outline=theme.border)
    font = _mono(12)
    y = canvas.top + 14
    for minute in range(40):
        if y > bottom - 24:
            break
        level = "WARNING" if minute % 7 == 3 else "INFO"
        line = (f"2026-12-06 12:{minute:02d}:00 {level:<7} classify image_{minute}.png -> "
                f"{_CLASSES[minute % 3]}")
        canvas.draw.text((14, y), line, font=font,
                         fill=(200, 140, 40) if level == "WARNING" else theme.text)
        y += 17
    return canvas.image


def _shot_progress(theme: _Theme) -> Image.Image:
    canvas = _Canvas((420, 420), "Training", theme, dialog=True)
    canvas.text((16, canvas.top + 16), "Training epoch 3 of 20 ...")
    top = canvas.top + 42
    canvas.draw.rounded_rectangle((16, top, 404, top + 20), 4, fill=theme.base,
                                  outline=theme.border)
    canvas.draw.rounded_rectangle((16, top, 16 + int(388 * 0.37), top + 20), 4,
                                  fill=theme.accent)
    canvas.text((210, top + 10), "37 %", anchor="mm")
    canvas.table((16, top + 34, 404, 360), ["Epoch", "Loss", "Accuracy"],
                 [[str(k + 1), f"{0.9 / (k + 1):.3f}", f"{0.6 + 0.1 * k:.2f}"]
                  for k in range(3)], [80, 140, 140])
    canvas.button((304, 374, 404, 404), "Cancel")
    return canvas.image


def _shot_calendar(theme: _Theme) -> Image.Image:
    canvas = _Canvas((380, 320), "Choose a date", theme, dialog=True)
    top = canvas.top + 8
    canvas.draw.rectangle((8, top, 372, top + 30), fill=theme.accent)
    canvas.text((190, top + 15), "December 2026", bold=True, fill=(255, 255, 255), anchor="mm")
    for x, arrow in ((24, "<"), (356, ">")):
        canvas.text((x, top + 15), arrow, bold=True, fill=(255, 255, 255), anchor="mm")
    cell_w, cell_h = 52, 34
    for column, day in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")):
        canvas.text((8 + cell_w * column + cell_w // 2, top + 44), day, bold=True,
                    anchor="mm", fill=theme.muted)
    first = 1  # 2026-12-01 is a Tuesday: column 1
    for day in range(1, 32):
        slot = first + day - 1
        row, column = divmod(slot, 7)
        cx = 8 + cell_w * column + cell_w // 2
        cy = top + 72 + cell_h * row
        if day == 6:
            canvas.draw.ellipse((cx - 14, cy - 14, cx + 14, cy + 14), fill=theme.accent)
        canvas.text((cx, cy), str(day), anchor="mm",
                    fill=(255, 255, 255) if day == 6 else (
                        (200, 60, 60) if column >= 5 else theme.text))
    return canvas.image


def _shot_viewer(theme: _Theme) -> Image.Image:
    """An image viewer showing a small chest-film-like picture: mostly image, some chrome."""
    canvas = _Canvas((560, 620), "LungLens - image_007.png", theme, menus=_MENUS[:3])
    canvas.toolbar(("Open", "Classify", "Zoom"))
    bottom = canvas.status("Normal 91.2 %  -  model lunglens-1.0")
    canvas.draw.rectangle((1, canvas.top, 558, bottom - 1), fill=(0, 0, 0) if theme is _DARK
                          else (90, 90, 90))
    film = Image.fromarray(synthetic_radiograph((400, 480), seed=3)).convert("RGB")
    left = (560 - film.width) // 2
    top = canvas.top + (bottom - canvas.top - film.height) // 2
    canvas.image.paste(film, (left, top))
    return canvas.image


def _shot_wizard(theme: _Theme) -> Image.Image:
    canvas = _Canvas((580, 420), "Train a new model", theme, dialog=True)
    draw = canvas.draw
    draw.rectangle((1, canvas.top, 160, 370), fill=theme.accent)
    for index, step in enumerate(("Data", "Check", "Train", "Evaluate", "Install")):
        y = canvas.top + 30 + 34 * index
        draw.ellipse((16, y - 9, 34, y + 9), fill=(255, 255, 255) if index == 0 else None,
                     outline=(255, 255, 255), width=2)
        canvas.text((44, y), step, bold=index == 0, fill=(255, 255, 255), anchor="lm")
    canvas.text((180, canvas.top + 20), "Select training data", bold=True, size=16)
    canvas.text((180, canvas.top + 48), "Choose a folder with one sub-folder per class.",
                fill=theme.muted)
    canvas.field((180, canvas.top + 84, 470, canvas.top + 110), "/data/cxr")
    canvas.button((480, canvas.top + 84, 566, canvas.top + 110), "Browse...")
    canvas.text((180, canvas.top + 130), "Found 3048 images in 3 classes.")
    draw.line((1, 370, 578, 370), fill=theme.border)
    canvas.button((300, 380, 380, 410), "< Back")
    canvas.button((390, 380, 470, 410), "Next >", default=True)
    canvas.button((484, 380, 566, 410), "Cancel")
    return canvas.image


def screenshot_specs() -> Iterator[Spec]:
    """Application windows drawn with Pillow, light and dark themes."""
    builders: list[tuple[str, str, Callable[[_Theme], Image.Image]]] = [
        ("message_box", "warning message box", _shot_message),
        ("results_table", "application window with toolbar and results table", _shot_table),
        ("training_form", "form with text fields, combo box, spin box and slider", _shot_form),
        ("file_tree", "tree view of files", _shot_tree),
        ("log_view", "plain-text log view", _shot_log),
        ("progress", "progress dialog with table", _shot_progress),
        ("calendar", "calendar dialog", _shot_calendar),
        ("viewer", "viewer window showing an X-ray-like image", _shot_viewer),
        ("wizard", "wizard page", _shot_wizard),
        ("spreadsheet_app", "spreadsheet window with formula bar", _shot_spreadsheet),
    ]
    for name, description, build in builders:
        for dark in (False, True):

            def write(path: Path, build: Callable[[_Theme], Image.Image] = build,
                      dark: bool = dark) -> None:
                image = build(_DARK if dark else _LIGHT)
                save(image if path.suffix == ".png" else image.convert("L"), path)

            suffix = "_dark" if dark else ""
            gray = dark  # the dark variants are saved as 8-bit gray: a colourless screenshot
            yield Spec(f"{name}{suffix}{'_gray' if gray else ''}.{'jpg' if gray else 'png'}",
                       f"drawn screenshot: {description}" + (", dark theme, grayscale JPEG"
                                                              if dark else ""), name, write)
