"""Pictures of known text, for OCR tests and benchmarks: printed pages, screenshot-like windows and
photographed signs (rotated, blurred, noisy), rendered with fonts from Debian packages
(fonts-dejavu-core, fonts-liberation). Each picture comes with the text it shows, line by line.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/truetype/liberation2"),
)
FONTS = {  # name -> file (Debian package)
    "DejaVu Sans": "DejaVuSans.ttf",
    "DejaVu Serif": "DejaVuSerif.ttf",
    "DejaVu Sans Mono": "DejaVuSansMono.ttf",
    "DejaVu Sans Bold": "DejaVuSans-Bold.ttf",
    "Liberation Sans": "LiberationSans-Regular.ttf",
    "Liberation Serif": "LiberationSerif-Regular.ttf",
    "Liberation Mono": "LiberationMono-Regular.ttf",
    "Liberation Sans Bold": "LiberationSans-Bold.ttf",
}


@dataclass
class TextImage:
    image: object  # PIL RGB image
    lines: list[str]  # the text it shows, in reading order
    kind: str  # "page", "screenshot" or "sign"
    font: str
    condition: str = "clean"  # or what was done to it ("rotated 8°, blur 1.2, noise 8")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def font_path(name: str) -> Path | None:
    """The file of a font from FONTS, or None when its package is not installed."""
    for folder in FONT_DIRS:
        path = folder / FONTS[name]
        if path.exists():
            return path
    return None


def available_fonts(names=None) -> list[str]:
    return [name for name in (names or FONTS) if font_path(name) is not None]


def _font(name: str, size: int):
    from PIL import ImageFont

    path = font_path(name)
    if path is None:
        raise FileNotFoundError(f"font {name} is not installed (apt-get install fonts-dejavu-core fonts-liberation)")
    return ImageFont.truetype(str(path), size)


def sentences(text: str) -> list[str]:
    """Plain sentences of a Markdown or text document (headings, markup and short fragments dropped)."""
    text = re.sub(r"[#*_`>\[\]()|]", " ", text)
    found = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return [s for s in found if len(s) > 25 and s.isascii()]


def wrap(words: list[str], font, width: int) -> list[str]:
    lines, current = [], ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if current and font.getlength(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return lines + ([current] if current else [])


def page(text: str, font: str, size: int = 23, width: int = 1240, height: int = 1754, margin: int = 120) -> TextImage:
    """A printed A4 page at 150 dpi (11 pt text at size 23): paragraphs of `text` in `font`."""
    from PIL import Image, ImageDraw

    face = _font(font, size)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    y, shown, step = margin, [], int(size * 1.5)
    for line in wrap(text.split(), face, width - 2 * margin):
        if y + step > height - margin:
            break
        draw.text((margin, y), line, font=face, fill=(20, 20, 20))
        shown.append(line)
        y += step
    return TextImage(image, shown, "page", font)


UI_LABELS = [
    "Display brightness",
    "Night light schedule",
    "Wi-Fi network",
    "Bluetooth devices",
    "Battery saver",
    "Keyboard layout",
    "Notifications",
    "Storage usage",
    "Privacy and security",
    "Default browser",
    "Automatic updates",
    "Screen lock timeout",
    "Sound output device",
    "Time zone",
    "Printers and scanners",
]
UI_VALUES = [
    "On",
    "Off",
    "75 %",
    "Automatic",
    "English (UK)",
    "5 minutes",
    "Home-Office-5G",
    "Enabled",
    "Never",
    "Speakers (USB Audio)",
    "Europe/Berlin",
    "12.4 GB free",
]


def screenshot(font: str, seed: int, size: int = 16) -> TextImage:
    """A settings window as on a 1280×800 screen: a title bar, a sidebar of sections and a pane of
    settings (label and value) on the same rows, and a button."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    face, title_face = _font(font, size), _font(font, size + 4)
    image = Image.new("RGB", (1280, 800), (243, 243, 246))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1280, 44), fill=(32, 34, 40))
    title = rng.choice(["System Settings", "Control Centre", "Preferences"])
    draw.text((20, 10), title, font=title_face, fill="white")
    draw.rectangle((0, 44, 260, 800), fill=(226, 228, 233))
    labels = rng.sample(UI_LABELS, 12)
    lines = [title]
    for i, (section, label) in enumerate(zip(labels[:6], labels[6:])):
        y, value = 76 + i * 64, rng.choice(UI_VALUES)
        draw.text((24, y), section, font=face, fill=(30, 30, 30))
        draw.rounded_rectangle((300, y - 12, 1240, y + 34), radius=6, fill="white")
        draw.text((320, y), label, font=face, fill=(20, 20, 20))
        draw.text((1000, y), value, font=face, fill=(90, 90, 90))
        lines.append(f"{section} {label} {value}")  # one row of the screen, read left to right
    button = rng.choice(["Apply changes", "Save", "Restore defaults"])
    draw.rounded_rectangle((1040, 720, 1240, 764), radius=8, fill=rng.choice([(38, 99, 210), (16, 124, 65)]))
    draw.text((1060, 732), button, font=face, fill="white")
    return TextImage(image, lines + [button], "screenshot", font)


SIGN_TEXTS = [
    ["NO PARKING", "Mon - Fri 8am - 6pm"],
    ["BAKERY", "Fresh bread daily"],
    ["PLATFORM 4", "Trains to Leeds"],
    ["CITY MUSEUM", "Open until 5 pm"],
    ["WET FLOOR"],
    ["EXIT", "Emergency only"],
    ["Main Street 12"],
    ["PHARMACY", "Open 24 hours"],
    ["SLOW DOWN", "School zone"],
    ["Harbour Road"],
    ["PRIVATE", "Keep out"],
    ["TICKET OFFICE", "Cash and cards"],
    ["Garden Cafe", "Coffee and cake"],
    ["BUS STOP", "Line 7 and 19"],
]


def sign(
    lines: list[str],
    font: str,
    background,
    seed: int,
    angle: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
    size: int = 800,
) -> TextImage:
    """A sign photographed in a scene: `lines` on a board over a photo `background`, rotated by
    `angle` degrees, blurred (Gaussian radius `blur`), with sensor noise (std `noise`), saved as JPEG."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    scene = background.convert("RGB").resize((size, size * 3 // 4))
    face = _font(font, rng.randint(34, 52))
    widths = [face.getlength(line) for line in lines]
    board_w, line_h = int(max(widths)) + 60, int(face.size * 1.35)
    board_h = line_h * len(lines) + 40
    colour, ink = rng.choice(
        [
            ((250, 250, 245), (20, 20, 20)),
            ((20, 90, 170), (255, 255, 255)),
            ((200, 30, 30), (255, 255, 255)),
            ((30, 110, 60), (255, 255, 255)),
            ((250, 200, 30), (20, 20, 20)),
        ]
    )
    board = Image.new("RGBA", (board_w, board_h), colour + (255,))
    draw = ImageDraw.Draw(board)
    for i, (line, w) in enumerate(zip(lines, widths)):
        draw.text(((board_w - w) / 2, 20 + i * line_h), line, font=face, fill=ink)
    board = board.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    x = rng.randint(10, max(11, scene.width - board.width - 10))
    y = rng.randint(10, max(11, scene.height - board.height - 10))
    scene.paste(board, (x, y), board)
    condition = f"rotated {angle:g}°, blur {blur:g}, noise {noise:g}" if (angle or blur or noise) else "clean"
    return TextImage(_photographed(scene, seed, blur, noise, quality=85), list(lines), "sign", font, condition)


def degrade(item: TextImage, seed: int, angle: float, blur: float, noise: float) -> TextImage:
    """A page or screenshot as a phone photo or a poor scan: rotated, blurred, noisy, JPEG-compressed."""
    from PIL import Image

    image = item.image.rotate(angle, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC)
    return TextImage(
        _photographed(image, seed, blur, noise, quality=80),
        item.lines,
        item.kind,
        item.font,
        f"rotated {angle:g}°, blur {blur:g}, noise {noise:g}",
    )


def _photographed(image, seed: int, blur: float, noise: float, quality: int):
    """`image` blurred (Gaussian radius `blur`), with sensor noise (std `noise`), through a JPEG."""
    import io

    import numpy as np
    from PIL import Image, ImageFilter

    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        pixels = np.asarray(image, dtype=np.float32)
        pixels += np.random.default_rng(seed).normal(0, noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Edit distance over the reference's length, whitespace runs counted as one space."""
    from rapidfuzz.distance import Levenshtein

    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    return Levenshtein.distance(ref, hyp) / max(len(ref), 1)
