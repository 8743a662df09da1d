#!/usr/bin/env python3
"""Draws the Switchyard app icons into icons/: a rail turnout (one track in, two out) in white
on a rounded teal square. Needs Pillow (`pip install pillow`); run from anywhere:

    python3 scripts/gen-icons.py

Writes 32x32.png, 128x128.png, 128x128@2x.png, icon.png (512), icon.ico, icon.icns and
tray.png (64, the tray icon). Everything is drawn at 1024 px and scaled down, so edges are
smooth at every size.
"""

import math
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1024
ICONS = Path(__file__).resolve().parent.parent / "icons"

TOP = (20, 184, 166)  # teal-500
BOTTOM = (15, 82, 120)  # deep blue-teal
TRACK = (255, 255, 255, 255)
STRAIGHT = (255, 255, 255, 150)  # the route not taken, dimmer


def rounded_square(size: int, margin: int, radius: int) -> Image.Image:
    """A vertical gradient clipped to a rounded square."""
    gradient = Image.new("RGBA", (size, size))
    draw = ImageDraw.Draw(gradient)
    for y in range(size):
        t = y / (size - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(TOP, BOTTOM))
        draw.line([(0, y), (size, y)], fill=colour + (255,))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        [margin, margin, size - 1 - margin, size - 1 - margin], radius=radius, fill=255
    )
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    out.paste(gradient, (0, 0), mask)
    return out


def bezier(p0, p1, p2, p3, steps=64):
    points = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        x = u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0]
        y = u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1]
        points.append((x, y))
    return points


def stroke(layer: Image.Image, points, width: int, fill) -> None:
    """A round-capped stroke along a polyline, stamped as discs every pixel or so (Pillow's
    wide lines leave gaps on curves), on its own layer so a translucent fill stays even."""
    path = Image.new("RGBA", layer.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(path)
    opaque = fill[:3] + (255,)
    r = width / 2
    for (x1, y1), (x2, y2) in zip(points, points[1:] or points):
        steps = max(1, int(math.hypot(x2 - x1, y2 - y1)))
        for i in range(steps + 1):
            x = x1 + (x2 - x1) * i / steps
            y = y1 + (y2 - y1) * i / steps
            draw.ellipse([x - r, y - r, x + r, y + r], fill=opaque)
    if fill[3] != 255:
        alpha = path.getchannel("A").point(lambda a: a * fill[3] // 255)
        path.putalpha(alpha)
    layer.alpha_composite(path)


def draw_icon(size: int = SIZE) -> Image.Image:
    s = size / 1024
    icon = rounded_square(size, margin=round(40 * s), radius=round(220 * s))
    width = round(118 * s)
    x0 = 400 * s
    bottom, junction, top = 820 * s, 600 * s, 204 * s
    # The straight road, dimmer; the switched route on top of it, bright.
    stroke(icon, [(x0, junction), (x0, top)], width, STRAIGHT)
    branch = bezier((x0, junction), (x0, 420 * s), (660 * s, 420 * s), (660 * s, top))
    stroke(icon, [(x0, bottom)] + branch, width, TRACK)
    return icon


def main() -> None:
    ICONS.mkdir(exist_ok=True)
    master = draw_icon()

    def scaled(px: int) -> Image.Image:
        return master.resize((px, px), Image.LANCZOS)

    for name, px in [
        ("32x32.png", 32),
        ("128x128.png", 128),
        ("128x128@2x.png", 256),
        ("icon.png", 512),
        ("tray.png", 64),
    ]:
        scaled(px).save(ICONS / name, optimize=True)
    ico_sizes = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (256, 256)]
    scaled(256).save(ICONS / "icon.ico", sizes=ico_sizes)
    master.save(ICONS / "icon.icns")
    print(f"wrote icons to {ICONS}")


if __name__ == "__main__":
    main()
