"""The waterfall as a PNG image (Pillow, default font): labels, bars coloured per service, axis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from supportbus_cli.tracing.model import NANOS_PER_MS, Trace, format_ms
from supportbus_cli.tracing.palette import ERROR_COLOUR, Rgb, service_colours

IMAGE_WIDTH = 1400
MARGIN = 16
ROW_HEIGHT = 20
HEADER_HEIGHT = 26
AXIS_HEIGHT = 22
TRACE_GAP = 24
LABEL_COLUMN = 520
SERVICE_COLUMN = 110
INDENT_PX = 14
BACKGROUND: Rgb = (255, 255, 255)
INK: Rgb = (34, 34, 34)
GRID: Rgb = (225, 225, 225)
FAINT: Rgb = (110, 110, 110)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def write_png(traces: Sequence[Trace], path: Path) -> None:
    render_png(traces).save(path, format="PNG")


def render_png(traces: Sequence[Trace]) -> Image.Image:
    """One image for every trace of the request, stacked newest first, with a shared legend."""
    font: Font = ImageFont.load_default(size=13)
    services = list(dict.fromkeys(service for trace in traces for service in trace.services))
    colours = service_colours(services)
    height = MARGIN * 2 + ROW_HEIGHT + sum(_trace_height(trace) for trace in traces)
    image = Image.new("RGB", (IMAGE_WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    top = MARGIN
    for trace in traces:
        _draw_trace(draw, font, trace, colours, top)
        top += _trace_height(trace)
    _draw_legend(draw, font, colours, top)
    return image


def _trace_height(trace: Trace) -> int:
    return HEADER_HEIGHT + AXIS_HEIGHT + ROW_HEIGHT * len(trace.rows) + TRACE_GAP


def _draw_trace(
    draw: ImageDraw.ImageDraw, font: Font, trace: Trace, colours: dict[str, Rgb], top: int
) -> None:
    header = (
        f"trace {trace.trace_id}   request {trace.request_id}   "
        f"total {format_ms(trace.duration_ns)} ms   {len(trace.spans)} spans"
    )
    draw.text((MARGIN, top), header, fill=INK, font=font)
    lane_left = MARGIN + LABEL_COLUMN + SERVICE_COLUMN
    lane_right = IMAGE_WIDTH - MARGIN
    rows_top = top + HEADER_HEIGHT + AXIS_HEIGHT
    rows_bottom = rows_top + ROW_HEIGHT * len(trace.rows)
    _draw_axis(draw, font, trace, (lane_left, lane_right), top + HEADER_HEIGHT, rows_bottom)
    total = max(trace.duration_ns, 1)
    scale = (lane_right - lane_left) / total
    for index, row in enumerate(trace.rows):
        span = row.span
        y = rows_top + index * ROW_HEIGHT
        if index % 2:  # zebra rows help the eye follow a label to its bar
            draw.rectangle((MARGIN, y, lane_right, y + ROW_HEIGHT - 1), fill=(248, 248, 250))
        label_x = MARGIN + row.depth * INDENT_PX
        label = ("! " if span.is_error else "") + span.name
        label = _fit(draw, font, label, MARGIN + LABEL_COLUMN - 8 - label_x)
        draw.text((label_x, y + 3), label, fill=ERROR_COLOUR if span.is_error else INK, font=font)
        service = _fit(draw, font, span.service, SERVICE_COLUMN - 8)
        draw.text((MARGIN + LABEL_COLUMN, y + 3), service, fill=FAINT, font=font)
        x0 = lane_left + (span.start_unix_nano - trace.start_unix_nano) * scale
        x1 = max(x0 + 2, lane_left + (span.end_unix_nano - trace.start_unix_nano) * scale)
        outline = ERROR_COLOUR if span.is_error else None
        bar_box = (x0, y + 4, x1, y + ROW_HEIGHT - 4)
        draw.rectangle(bar_box, fill=colours[span.service], outline=outline, width=2)
        duration = format_ms(span.duration_ns) + " ms"
        _draw_duration(draw, font, duration, (x0, x1), (lane_left, lane_right), y)


def _draw_duration(
    draw: ImageDraw.ImageDraw,
    font: Font,
    text: str,
    bar_x: tuple[float, float],
    lane: tuple[int, int],
    y: int,
) -> None:
    # After the bar when it fits, else before it, else (a bar filling the lane) inside it in white.
    (x0, x1), (left, right) = bar_x, lane
    width = draw.textlength(text, font=font)
    if x1 + 4 + width <= right:
        draw.text((x1 + 4, y + 3), text, fill=FAINT, font=font)
    elif x0 - 4 - width >= left:
        draw.text((x0 - 4 - width, y + 3), text, fill=FAINT, font=font)
    else:
        draw.text((x0 + 4, y + 3), text, fill=BACKGROUND, font=font)


def _draw_axis(
    draw: ImageDraw.ImageDraw,
    font: Font,
    trace: Trace,
    lane: tuple[int, int],
    top: int,
    bottom: int,
) -> None:
    left, right = lane
    total_ms = max(trace.duration_ns, 1) / NANOS_PER_MS
    step = _tick_step(total_ms)
    draw.line((left, top + AXIS_HEIGHT - 2, right, top + AXIS_HEIGHT - 2), fill=FAINT)
    tick = 0.0
    while tick <= total_ms + 1e-9:
        x = left + (right - left) * tick / total_ms
        draw.line((x, top + AXIS_HEIGHT - 6, x, bottom), fill=GRID)
        text = f"{tick:g} ms"
        text_x = min(x + 2, right - draw.textlength(text, font=font))
        draw.text((text_x, top + 2), text, fill=FAINT, font=font)
        tick += step


def _tick_step(total_ms: float, target_ticks: int = 6) -> float:
    """A 1-2-5 step giving about ``target_ticks`` ticks: round numbers an operator can read."""
    raw = total_ms / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw:
            return float(multiple * magnitude)
    return float(10 * magnitude)


def _draw_legend(draw: ImageDraw.ImageDraw, font: Font, colours: dict[str, Rgb], top: int) -> None:
    x = MARGIN
    for service, colour in colours.items():
        draw.rectangle((x, top + 4, x + 12, top + 16), fill=colour)
        draw.text((x + 16, top + 3), service, fill=INK, font=font)
        x += 16 + int(draw.textlength(service, font=font)) + 20
    draw.rectangle((x, top + 4, x + 12, top + 16), outline=ERROR_COLOUR, width=2)
    draw.text((x + 16, top + 3), "! = status ERROR", fill=ERROR_COLOUR, font=font)


def _fit(draw: ImageDraw.ImageDraw, font: Font, text: str, max_width: float) -> str:
    if draw.textlength(text, font=font) <= max_width:
        return text
    while text and draw.textlength(text + "…", font=font) > max_width:
        text = text[:-1]
    return text + "…"
