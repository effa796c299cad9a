"""One colour per service, shared by the HTML and PNG renderers so both read the same way."""

from __future__ import annotations

from collections.abc import Sequence

Rgb = tuple[int, int, int]

# Colour-blind-friendly (Okabe-Ito), dark enough for white text and visible on white.
_COLOURS: tuple[Rgb, ...] = (
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (213, 94, 0),
    (120, 120, 120),
    (160, 140, 20),
)
ERROR_COLOUR: Rgb = (200, 0, 0)
# The pipeline's own services keep one colour in every trace and every file an operator opens.
_PIPELINE = ("classifier", "retriever", "ticketer", "helpdesk", "responder")


def service_colours(services: Sequence[str]) -> dict[str, Rgb]:
    """Pipeline services get their fixed colour; others (e.g. the CLI) the next free ones."""
    colours: dict[str, Rgb] = {}
    next_free = len(_PIPELINE)
    for service in services:
        if service in _PIPELINE:
            colours[service] = _COLOURS[_PIPELINE.index(service)]
        else:
            colours[service] = _COLOURS[next_free % len(_COLOURS)]
            next_free += 1
    return colours


def css_colour(colour: Rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)
