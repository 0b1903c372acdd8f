"""The bulletin's charts, drawn once and written two ways: SVG for the HTML and the PDF, PNG for a mail body.

Mail clients (Gmail, Outlook) do not show inline SVG, so the mail carries the
same drawing as PNG images, made here with Pillow and the repository's DejaVu
Sans. A chart is a list of shapes in one coordinate space (CSS pixels); each
writer turns the same list into its format, so the two cannot drift.

What the charts promise the reader:
- the province trend covers 8 weeks, with the 7-day average as a line;
  a day whose figures are incomplete (a district missing) is drawn pale and
  hatched, a day without any report as a grey mark on the axis, not a zero;
- the district small multiples share one scale, whose top is written on each;
- levels over time: one row per district, one cell per day, in level colours.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from html import escape

from bantin.render import FONTS_DIR, vn_date, vn_int

FONT_FAMILY = "Bantin Sans, DejaVu Sans, sans-serif"

# Level colours with the text colour that reaches WCAG AA (≥ 4.5:1) on each: the badges and the strip.
LEVEL_COLOURS = {
    1: ("#2e7d32", "#ffffff"),
    2: ("#f9c846", "#1a1a1a"),
    3: ("#c25100", "#ffffff"),
    4: ("#b71c1c", "#ffffff"),
}
NO_DATA = "#d6d6d6"
BAR = "#1565c0"
BAR_INCOMPLETE = "#9ec5ee"
COMMUNITY = "#0b3d91"
AVERAGE = "#d84315"
AXIS = "#757575"
GRID = "#e0e0e0"
INK = "#222222"
MUTED = "#555555"


@dataclass
class Chart:
    width: float
    height: float
    label: str  # what a screen reader says, and the PNG's alt text
    shapes: list[tuple] = field(default_factory=list)

    def rect(self, x, y, w, h, fill, *, title=None, hatch=False, stroke=None):
        self.shapes.append(("rect", x, y, w, h, fill, title, hatch, stroke))

    def line(self, x1, y1, x2, y2, stroke, width=1.0, dash=False):
        self.shapes.append(("line", x1, y1, x2, y2, stroke, width, dash))

    def path(self, points, stroke, width=1.5):
        if len(points) > 1:
            self.shapes.append(("path", tuple(points), stroke, width))

    def text(self, x, y, words, size=8.0, *, anchor="start", fill=INK, bold=False):
        self.shapes.append(("text", x, y, str(words), size, anchor, fill, bold))

    def place(self, other: Chart, dx: float, dy: float) -> None:
        """Draw another chart inside this one at (dx, dy): small multiples become one image for the mail."""
        for shape in other.shapes:
            kind = shape[0]
            if kind == "rect":
                self.shapes.append((kind, shape[1] + dx, shape[2] + dy, *shape[3:]))
            elif kind == "line":
                self.shapes.append((kind, shape[1] + dx, shape[2] + dy, shape[3] + dx, shape[4] + dy, *shape[5:]))
            elif kind == "path":
                self.shapes.append((kind, tuple((x + dx, y + dy) for x, y in shape[1]), *shape[2:]))
            else:
                self.shapes.append((kind, shape[1] + dx, shape[2] + dy, *shape[3:]))


# --------------------------------------------------------------------------- writers


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def to_svg(chart: Chart, *, tooltips: bool = False) -> str:
    """Inline SVG that scales to its box (width 100%, height from the viewBox).

    `tooltips`: a <title> per bar and cell. Off for the bulletin: WeasyPrint spends about as
    long on them as on the rest of the page, and every value is in the tables anyway.
    """
    hatch_id = "hatch-" + hashlib.sha1(chart.label.encode()).hexdigest()[:8]  # one id per chart on a page
    out = [
        f'<svg class="chart" viewBox="0 0 {_n(chart.width)} {_n(chart.height)}" role="img" '
        f'aria-label="{escape(chart.label)}" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMinYMin meet">'
    ]
    if any(shape[0] == "rect" and shape[7] for shape in chart.shapes):
        out.append(
            f'<defs><pattern id="{hatch_id}" width="4" height="4" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="4" stroke="#ffffff" '
            'stroke-width="1.6"/></pattern></defs>'
        )
    for shape in chart.shapes:
        kind = shape[0]
        if kind == "rect":
            _, x, y, w, h, fill, title, hatch, stroke = shape
            border = f' stroke="{stroke}" stroke-width="0.8"' if stroke else ""
            tip = f"<title>{escape(title)}</title>" if title and tooltips else ""
            out.append(
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{fill}"{border}>{tip}</rect>'
            )
            if hatch and h > 0:
                out.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="url(#{hatch_id})"/>')
        elif kind == "line":
            _, x1, y1, x2, y2, stroke, width, dash = shape
            dashed = ' stroke-dasharray="3 2"' if dash else ""
            out.append(
                f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}" '
                f'stroke-width="{_n(width)}"{dashed}/>'
            )
        elif kind == "path":
            _, points, stroke, width = shape
            d = " ".join(f"{'M' if i == 0 else 'L'}{_n(x)},{_n(y)}" for i, (x, y) in enumerate(points))
            out.append(
                f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{_n(width)}" stroke-linejoin="round"/>'
            )
        else:
            _, x, y, words, size, anchor, fill, bold = shape
            weight = ' font-weight="bold"' if bold else ""
            out.append(
                f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}" '
                f'fill="{fill}" font-family="{FONT_FAMILY}"{weight}>{escape(words)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _font(size: float, bold: bool, scale: float):
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONTS_DIR / name), max(6, round(size * scale)))


def to_png(chart: Chart, *, scale: float = 2.0) -> bytes:
    """The same drawing as a PNG at `scale` × its CSS size (sharp on a phone's screen)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (math.ceil(chart.width * scale), math.ceil(chart.height * scale)), "#ffffff")
    draw = ImageDraw.Draw(image)
    fonts: dict = {}
    for shape in chart.shapes:
        kind = shape[0]
        if kind == "rect":
            _, x, y, w, h, fill, _title, hatch, stroke = shape
            if w <= 0 or h <= 0:
                continue
            # a bar thinner than a pixel (a day of 1 case beside a day of 3,000) is one pixel, not an error
            box = [x * scale, y * scale, max(x * scale, (x + w) * scale - 1), max(y * scale, (y + h) * scale - 1)]
            draw.rectangle(box, fill=fill, outline=stroke)
            if hatch:
                step = 4 * scale
                offset = -h * scale
                while offset < w * scale:  # white diagonals, clipped to the bar
                    x0, y0 = x * scale + offset, (y + h) * scale
                    x1, y1 = x0 + h * scale, y * scale
                    if x0 < box[0]:
                        y0 -= box[0] - x0
                        x0 = box[0]
                    if x1 > box[2]:
                        y1 += x1 - box[2]
                        x1 = box[2]
                    if x1 > x0:
                        draw.line([x0, y0, x1, y1], fill="#ffffff", width=max(1, round(scale * 0.8)))
                    offset += step
        elif kind == "line":
            _, x1, y1, x2, y2, stroke, width, dash = shape
            if dash:
                length = math.hypot(x2 - x1, y2 - y1) or 1
                t = 0.0
                while t < length:
                    a, b = t / length, min(t + 3, length) / length
                    draw.line(
                        [
                            (x1 + (x2 - x1) * a) * scale,
                            (y1 + (y2 - y1) * a) * scale,
                            (x1 + (x2 - x1) * b) * scale,
                            (y1 + (y2 - y1) * b) * scale,
                        ],
                        fill=stroke,
                        width=max(1, round(width * scale)),
                    )
                    t += 5
            else:
                draw.line(
                    [x1 * scale, y1 * scale, x2 * scale, y2 * scale], fill=stroke, width=max(1, round(width * scale))
                )
        elif kind == "path":
            _, points, stroke, width = shape
            draw.line(
                [(x * scale, y * scale) for x, y in points],
                fill=stroke,
                width=max(1, round(width * scale)),
                joint="curve",
            )
        else:
            _, x, y, words, size, anchor, fill, bold = shape
            font = fonts.setdefault((size, bold), _font(size, bold, scale))
            draw.text(
                (x * scale, y * scale),
                words,
                fill=fill,
                font=font,
                anchor={"start": "ls", "middle": "ms", "end": "rs"}[anchor],
            )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --------------------------------------------------------------------------- scales


def nice_top(value: float) -> int:
    """The smallest 'round' number ≥ value (1, 2, 2.5, 5 × 10^n): an axis top a reader can read."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return max(1, int(math.ceil(step * power)))
    return int(10 * power)


def _short(day: str) -> str:
    return vn_date(day)[:5]


# --------------------------------------------------------------------------- the bulletin's charts


def trend_chart(days: list[dict], width: float = 640, height: float = 190, *, scope: str = "toàn tỉnh") -> Chart:
    """Province new cases per day over 8 weeks, community share darker, 7-day average line, incomplete days marked.

    `days`: {report_date, new_cases, new_cases_community, average_7d, complete} oldest first; `scope`: the
    province's words (toàn tỉnh, toàn thành phố), as in bulletin.document_form.
    """
    chart = Chart(width, height, f"Ca mắc mới {scope} {len(days)} ngày, có đường trung bình 7 ngày")
    left, right, top_pad, bottom = 40, 8, 14, height - 34
    top = nice_top(max([1] + [d["new_cases"] or 0 for d in days] + [d["average_7d"] or 0 for d in days]))
    room = bottom - top_pad
    step = (width - left - right) / max(len(days), 1)
    for fraction in (0, 0.5, 1):
        y = bottom - room * fraction
        chart.line(left, y, width - right, y, GRID if fraction else AXIS, 0.6 if fraction else 0.8)
        chart.text(left - 4, y + 3, vn_int(top * fraction), 7.5, anchor="end", fill=MUTED)
    average = []
    for i, day in enumerate(days):
        x = left + i * step
        label = vn_date(day["report_date"])
        if day["new_cases"] is None:
            chart.rect(x + step * 0.1, bottom - 2, step * 0.8, 2, NO_DATA, title=f"{label}: không có báo cáo")
        else:
            h = day["new_cases"] / top * room
            complete = day["complete"]
            title = f"{label}: {vn_int(day['new_cases'])} ca" + ("" if complete else " (số liệu chưa đủ)")
            chart.rect(
                x + step * 0.1,
                bottom - h,
                step * 0.8,
                h,
                BAR if complete else BAR_INCOMPLETE,
                title=title,
                hatch=not complete,
                stroke=None if complete else BAR,
            )
            community = day.get("new_cases_community") or 0
            if community and complete:
                ch = community / top * room
                chart.rect(x + step * 0.1, bottom - ch, step * 0.8, ch, COMMUNITY)
        if day["average_7d"] is not None:
            average.append((x + step / 2, bottom - day["average_7d"] / top * room))
        elif average:
            chart.path(average, AVERAGE, 1.8)
            average = []
        if i % 7 == (len(days) - 1) % 7:  # a date under every 7th day, ending on the report date
            chart.line(x + step / 2, bottom, x + step / 2, bottom + 3, AXIS, 0.6)
            chart.text(x + step / 2, bottom + 12, _short(day["report_date"]), 7.5, anchor="middle", fill=MUTED)
    chart.path(average, AVERAGE, 1.8)
    # legend, in words as well as colours
    y = height - 6
    chart.rect(left, y - 7, 8, 7, BAR)
    chart.text(left + 11, y, "ca mới", 7.5)
    chart.rect(left + 52, y - 7, 8, 7, COMMUNITY)
    chart.text(left + 63, y, "trong cộng đồng", 7.5)
    chart.line(left + 140, y - 3, left + 156, y - 3, AVERAGE, 1.8)
    chart.text(left + 160, y, "trung bình 7 ngày", 7.5)
    chart.rect(left + 245, y - 7, 8, 7, BAR_INCOMPLETE, hatch=True, stroke=BAR)
    chart.text(left + 256, y, "số liệu chưa đủ", 7.5)
    chart.rect(left + 330, y - 2, 8, 2, NO_DATA)
    chart.text(left + 341, y, "không có báo cáo", 7.5)
    return chart


def district_multiple(name: str, days: list[dict], top: int, width: float = 150, height: float = 58) -> Chart:
    """One district's new cases per day on the province-wide scale `top` (written at the top left)."""
    total = sum(d["new_cases"] or 0 for d in days)
    chart = Chart(width, height, f"{name}: {vn_int(total)} ca trong {len(days)} ngày")
    chart.text(2, 9, name, 7.5, bold=True)
    chart.text(width - 2, 9, f"{vn_int(total)} ca", 7, anchor="end", fill=MUTED)
    left, bottom, top_pad = 2, height - 3, 20
    room = bottom - top_pad
    chart.line(left, top_pad, width - 2, top_pad, GRID, 0.5, dash=True)
    chart.text(width - 2, top_pad - 2, f"thang chung: {vn_int(top)}", 6.5, anchor="end", fill=MUTED)
    chart.line(left, bottom, width - 2, bottom, AXIS, 0.6)
    step = (width - 4) / max(len(days), 1)
    for i, day in enumerate(days):
        x = left + i * step
        if day["new_cases"] is None:
            chart.rect(
                x + step * 0.1,
                bottom - 1.5,
                step * 0.8,
                1.5,
                NO_DATA,
                title=f"{vn_date(day['report_date'])}: không có báo cáo",
            )
        elif day["new_cases"]:
            h = max(0.8, day["new_cases"] / top * room)
            chart.rect(
                x + step * 0.1,
                bottom - h,
                step * 0.8,
                h,
                BAR,
                title=f"{vn_date(day['report_date'])}: {vn_int(day['new_cases'])} ca",
            )
    return chart


def multiples_grid(charts: list[Chart], columns: int, gap: float = 6) -> Chart:
    """Small multiples side by side in one image (for the mail; the HTML lets them wrap)."""
    if not charts:
        return Chart(1, 1, "")
    w, h = charts[0].width, charts[0].height
    rows = math.ceil(len(charts) / columns)
    grid = Chart(
        columns * w + (columns - 1) * gap, rows * h + (rows - 1) * gap, "Ca mắc mới theo đơn vị, cùng một thang"
    )
    for i, chart in enumerate(charts):
        grid.place(chart, (i % columns) * (w + gap), (i // columns) * (h + gap))
    return grid


def level_strip(rows: list[dict], days: list[str], width: float = 640) -> Chart:
    """Levels over time: one row per district, one cell per day, coloured by level; grey where unknown.

    `rows`: {name, levels: [level or None per day], stale: [bool per day]}.
    """
    label_width, row_h, head = 130, 9, 14
    height = head + row_h * len(rows) + 20
    chart = Chart(width, height, f"Cấp độ dịch theo đơn vị, {len(days)} ngày")
    step = (width - label_width - 4) / max(len(days), 1)
    for i, day in enumerate(days):
        if i % 7 == (len(days) - 1) % 7:
            chart.text(label_width + i * step + step / 2, head - 4, _short(day), 7, anchor="middle", fill=MUTED)
    for r, row in enumerate(rows):
        y = head + r * row_h
        chart.text(label_width - 4, y + row_h - 2, row["name"], 6.5, anchor="end")
        start = 0
        cells = list(zip(row["levels"], row["stale"], strict=True))
        for i in range(1, len(cells) + 1):  # one rectangle per run of equal days: a light PDF, the same picture
            if i < len(cells) and cells[i] == cells[start]:
                continue
            level, stale = cells[start]
            colour = LEVEL_COLOURS[level][0] if level else NO_DATA
            span = f"{vn_date(days[start])}–{vn_date(days[i - 1])}" if i - 1 > start else vn_date(days[start])
            chart.rect(
                label_width + start * step,
                y + 1,
                (i - start) * step - 0.4,
                row_h - 2,
                colour,
                title=f"{row['name']} {span}: "
                + (f"cấp {level}" if level else "chưa đánh giá")
                + (" (giữ cấp cũ, thiếu số liệu)" if stale else ""),
                hatch=stale,
            )
            start = i
        for i in range(7 - (len(days) % 7 or 7), len(days), 7):  # week ticks over the runs
            chart.line(label_width + i * step, y + 1, label_width + i * step, y + row_h - 1, "#ffffff", 0.5)
    # the legend from the left edge, not under the grid: on a phone the wide chart scrolls sideways and only
    # its first ~400 units show (bulletin.html.j2: min-width 560 px in 390), the whole legend among them
    y = height - 6
    x = 4
    for level, word in ((1, "cấp 1"), (2, "cấp 2"), (3, "cấp 3"), (4, "cấp 4")):
        chart.rect(x, y - 7, 8, 7, LEVEL_COLOURS[level][0])
        chart.text(x + 11, y, word, 7.5)
        x += 45
    chart.rect(x, y - 7, 8, 7, NO_DATA)
    chart.text(x + 11, y, "chưa đánh giá", 7.5)
    chart.rect(x + 80, y - 7, 8, 7, LEVEL_COLOURS[2][0], hatch=True)
    chart.text(x + 91, y, "giữ cấp cũ (thiếu số liệu)", 7.5)
    return chart


def bulletin_charts(figures: dict) -> dict:
    """The bulletin's charts from its figures (bulletin.build_summary); `district_list`: the multiples one by one."""
    multiples = figures["district_trends"]
    top = nice_top(max([1] + [d["new_cases"] or 0 for series in multiples.values() for d in series]))
    names = {str(d["district_code"]): d["district_name"] for d in figures["districts"]}
    smalls = [district_multiple(names[code], series, top) for code, series in multiples.items() if code in names]
    history = figures["level_history"]
    return {
        "trend": trend_chart(figures["trend"], scope=(figures.get("form") or {}).get("scope", "toàn tỉnh")),
        "districts": multiples_grid(smalls, columns=4),
        "district_list": smalls,
        "levels": level_strip(history["rows"], history["days"]),
    }
