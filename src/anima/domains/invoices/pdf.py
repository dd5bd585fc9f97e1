"""An invoice or credit note as a PDF (WeasyPrint), in the organization's language.

The document is HTML rendered by WeasyPrint (it needs Pango from the system: Debian's
``libpango-1.0-0``/``libpangoft2-1.0-0``, present in the image). Labels are translated with the
web catalogs (en/es/ca/it); money is formatted by Babel's ``format_currency`` and dates by
``format_date`` in the invoice's frozen language; every dynamic value is HTML-escaped.
The issue date is shown in the organization's IANA zone (named on the document).
"""

from __future__ import annotations

import datetime
import html
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency, format_percent

from anima.domains.invoices.models import Invoice, InvoiceLine
from anima.domains.invoices.totals import Line
from anima.web.i18n import gettext

_CSS = """
@page { size: A4; margin: 18mm; }
body { font-family: sans-serif; font-size: 10pt; color: #1f2a2e; }
h1 { font-size: 18pt; margin: 0 0 4mm; }
table { width: 100%; border-collapse: collapse; margin-top: 6mm; }
th, td { padding: 2mm; border-bottom: 0.3mm solid #d5dcdf; text-align: left; }
td.n, th.n { text-align: right; }
tfoot td { border: none; }
.total td { font-weight: bold; font-size: 12pt; }
"""


def money(minor: int, currency: str, language: str) -> str:
    """``minor`` units of ``currency`` formatted by Babel for ``language`` (e.g. ``1.234,56 €`` in es)."""
    from babel.numbers import get_currency_precision

    digits = get_currency_precision(currency)
    return format_currency(minor / (10 ** digits) if digits else minor, currency, locale=language)


def render_html(
    inv: Invoice, lines: list[InvoiceLine], *, organization: str, patient_name: str, time_zone: str, language: str | None = None,
) -> str:
    """The invoice as an HTML document (what :func:`render_pdf` prints); ``language`` overrides the
    invoice's frozen one (a draft's preview in today's language)."""
    lang = language or inv.language

    def _(message: str) -> str:
        return html.escape(gettext(lang, message))

    label = {
        "billed": _("Billed to"), "date": _("Date of issue"), "description": _("Description"), "quantity": _("Quantity"),
        "unit": _("Unit price"), "discount": _("Discount"), "amount": _("Amount"), "subtotal": _("Subtotal"),
        "total": _("Total"), "draft": _("Draft"),
    }
    title = _("Credit note") if inv.kind == "CREDIT_NOTE" else _("Invoice")
    issued = inv.issued_at or datetime.datetime.now(datetime.UTC)
    zone = ZoneInfo(time_zone)
    date_text = f"{format_date(issued.astimezone(zone).date(), format='long', locale=lang)} ({html.escape(time_zone)})"
    rows = "".join(
        f"<tr><td>{html.escape(x.description)}</td><td class='n'>{x.quantity}</td>"
        f"<td class='n'>{money(x.unit_minor, inv.currency, lang)}</td>"
        f"<td class='n'>{format_percent(x.discount_bps / 10000, locale=lang) if x.discount_bps else ''}</td>"
        f"<td class='n'>{money(Line(x.quantity, x.unit_minor, x.discount_bps).net_minor, inv.currency, lang)}</td></tr>"
        for x in lines
    )
    rate = format_percent(inv.tax_rate_bps / 10000, format="#,##0.##%", locale=lang)
    number = html.escape(inv.number) if inv.number else label['draft']
    return (
        f"<!doctype html><html lang='{html.escape(lang)}'><head><meta charset='utf-8'><title>{title} {number}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{title} {number}</h1>"
        f"<p><strong>{html.escape(organization)}</strong></p>"
        f"<p>{label['billed']}: {html.escape(patient_name)}<br>{label['date']}: {date_text}</p>"
        f"<table><thead><tr><th>{label['description']}</th><th class='n'>{label['quantity']}</th><th class='n'>{label['unit']}</th>"
        f"<th class='n'>{label['discount']}</th><th class='n'>{label['amount']}</th></tr></thead><tbody>{rows}</tbody>"
        f"<tfoot><tr><td colspan='4' class='n'>{label['subtotal']}</td><td class='n'>{money(inv.subtotal_minor, inv.currency, lang)}</td></tr>"
        f"<tr><td colspan='4' class='n'>{html.escape(inv.tax_label)} {rate}</td><td class='n'>{money(inv.tax_minor, inv.currency, lang)}</td></tr>"
        f"<tr class='total'><td colspan='4' class='n'>{label['total']}</td><td class='n'>{money(inv.total_minor, inv.currency, lang)}</td></tr>"
        f"</tfoot></table></body></html>"
    )


def render_pdf(
    inv: Invoice, lines: list[InvoiceLine], *, organization: str, patient_name: str, time_zone: str, language: str | None = None,
) -> bytes:
    """The invoice as PDF bytes (WeasyPrint)."""
    import weasyprint

    return weasyprint.HTML(string=render_html(inv, lines, organization=organization, patient_name=patient_name,
                                              time_zone=time_zone, language=language)).write_pdf()
