"""The printable boarding pass (PDF): the same facts as the boarding pass page, with the PDF417 barcode.

Times are the clock at each airport; the barcode is the Resolution 792 string, so any gate reader accepts
the printout.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.utils import dateformat, translation
from django.utils.translation import gettext as _

from reservations import bcbp
from reservations.documents import a4_pdf
from reservations.models import CheckIn
from reservations.selectors import GATE_CLOSES_MINUTES, BoardingPass, boarding_pass

LATIN_FONT, LATIN_BOLD = "Helvetica", "Helvetica-Bold"
# Supplied by the PDF viewer, so Chinese labels print without embedding a font.
CJK_FONT = "STSong-Light"


def _fonts() -> tuple[str, str]:
    if not (translation.get_language() or "").startswith("zh"):
        return LATIN_FONT, LATIN_BOLD
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT, CJK_FONT


def _place(airport) -> str:  # noqa: ANN001
    return airport.label()


def boarding_pass_pdf(*, check_in: CheckIn) -> bytes:
    """One A4 page: who, which flight, when to be at the gate, the seat, and the barcode the gate scans."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, Spacer, Table, TableStyle

    bp: BoardingPass = boarding_pass(check_in=check_in)
    font, bold = _fonts()
    title = ParagraphStyle("title", fontName=bold, fontSize=18, leading=22, spaceAfter=6)
    label = ParagraphStyle("label", fontName=font, fontSize=8, leading=10, textColor=colors.HexColor("#5a6570"))
    value = ParagraphStyle("value", fontName=bold, fontSize=13, leading=16)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)

    def text(content: object, style: ParagraphStyle) -> Paragraph:
        return Paragraph(str(content).replace("&", "&amp;").replace("<", "&lt;"), style)

    def cell(caption: str, content: object) -> list[Paragraph]:
        return [text(caption, label), text(content if content not in (None, "") else "—", value)]

    flight = bp.flight
    facts = [
        [
            cell(_("Passenger"), bp.passenger_name),
            cell(_("Booking reference"), bp.record_locator),
            cell(_("E-ticket"), bp.ticket_number),
        ],
        [cell(_("From"), _place(flight.origin)), cell(_("To"), _place(flight.destination)), cell(_("Flight"), bp.flight_code)],
        [
            cell(_("Date"), dateformat.format(bp.departure, "D j M Y")),
            cell(_("Departs (local time)"), dateformat.format(bp.departure, "H:i")),
            cell(_("Arrives (local time)"), dateformat.format(bp.arrival, "H:i")),
        ],
        [
            cell(_("Boarding"), dateformat.format(bp.boarding, "H:i")),
            cell(_("Gate"), bp.gate or _("See screens")),
            cell(_("Zone"), bp.zone),
        ],
        [cell(_("Seat"), bp.seat), cell(_("Cabin"), f"{bp.cabin} {bp.fare_family}"), cell(_("Sequence"), f"{bp.sequence:03d}")],
    ]
    grid = Table([[list(c) for c in row] for row in facts], colWidths=[60 * mm, 60 * mm, 60 * mm])
    grid.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c0")),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    barcode = Image(io.BytesIO(bcbp.pdf417_png(bp.barcode, scale=3)))
    barcode.drawWidth, barcode.drawHeight = 120 * mm, 120 * mm * barcode.imageHeight / barcode.imageWidth
    notes = [
        _("The gate closes %(minutes)d minutes before departure.") % {"minutes": GATE_CLOSES_MINUTES},
        _("Checked bags: %(bags)d. Cabin bags: %(items)d.") % {"bags": bp.bags, "items": bp.hand_carry},
    ]
    if bp.priority or bp.lounge:
        perks = [str(_("Priority")) if bp.priority else "", str(_("Lounge")) if bp.lounge else ""]
        notes.insert(0, " · ".join(p for p in perks if p) + (f" ({bp.benefits_label})" if bp.benefits_label else ""))
    if bp.lap_infant:
        notes.append(_("Travelling with infant %(name)s on the lap.") % {"name": bp.lap_infant})
    if bp.travelling_with:
        notes.append(_("Infant on the lap of %(name)s.") % {"name": bp.travelling_with})
    story = [
        text(f"{settings.AIRLINE_NAME} · {_('Boarding pass')}", title),
        grid,
        Spacer(1, 8 * mm),
        barcode,
        Spacer(1, 6 * mm),
        *(text(note, body) for note in notes),
    ]
    return a4_pdf(story, title=f"{settings.AIRLINE_NAME} {bp.flight_code} {bp.record_locator}")
