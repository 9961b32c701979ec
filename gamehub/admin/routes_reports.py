"""HTTP endpoints of reports: the house's results (JSON and CSV) and the ledger check."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from quart import Blueprint, Response
from quart_schema import validate_querystring, validate_response

from gamehub.admin import reports
from gamehub.admin.guard import operator_required
from gamehub.admin.schemas import (
    HouseDayOut,
    HouseQuery,
    HouseReportOut,
    LedgerCheckOut,
    RtpOut,
    TaxDayOut,
    TaxReportOut,
)
from gamehub.db import utcnow
from gamehub.errors import ApiError
from gamehub.money import format_cents
from gamehub.runtime import runtime

blueprint = Blueprint("admin_reports", __name__, url_prefix="/admin")

MAX_DAYS = 366
CSV_COLUMNS = [
    "day",
    "game",
    "bets",
    "wagered",
    "paid_out",
    "rake",
    "net",
    "observed_rtp",
    "theoretical_rtp",
    "ci95_low",
    "ci95_high",
    "tax_withheld",
]
TAX_CSV_COLUMNS = ["day", "tax", "base", "amount", "count"]


def _ratio(value: float | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def _days(query: HouseQuery) -> tuple[date, date]:
    last = query.to or utcnow().date()
    first = query.from_ or last - timedelta(days=6)
    if first > last or (last - first).days >= MAX_DAYS:
        raise ApiError(
            f"`from` must be on or before `to`, at most {MAX_DAYS} days apart.",
            status=422,
            code="validation_error",
        )
    return first, last


def _day_out(row: reports.DayResult) -> HouseDayOut:
    interval = row.interval
    theoretical = row.theoretical
    return HouseDayOut(
        day=row.day.isoformat(),
        game=row.game,
        bets=row.bets,
        wagered=format_cents(row.wagered),
        paid_out=format_cents(row.paid_out),
        rake=format_cents(row.rake),
        net=format_cents(row.net),
        tax_withheld=format_cents(row.tax_withheld),
        rtp=RtpOut(
            observed=_ratio(row.observed),
            theoretical=_ratio(theoretical),
            ci95_low=_ratio(interval[0]) if interval else None,
            ci95_high=_ratio(interval[1]) if interval else None,
            within=None
            if interval is None or theoretical is None
            else interval[0] <= theoretical <= interval[1],
        ),
    )


async def _report(query: HouseQuery) -> tuple[date, date, list[reports.DayResult]]:
    first, last = _days(query)
    return first, last, await reports.house(runtime().readers, first, last)


@blueprint.get("/reports/house")
@operator_required
@validate_querystring(HouseQuery)
@validate_response(HouseReportOut)
async def house(query_args: HouseQuery) -> HouseReportOut:
    """Per game per UTC day: bets, wagered, paid out, rake, net, tax withheld and return to player
    (observed, theoretical and a 95% confidence interval)."""
    first, last, rows = await _report(query_args)
    totals = {
        name: format_cents(sum(getattr(row, name) for row in rows))
        for name in ("wagered", "paid_out", "rake", "net", "tax_withheld")
    }
    return HouseReportOut(
        period={"from": first.isoformat(), "to": last.isoformat()},
        days=[_day_out(row) for row in rows],
        totals=totals,
    )


@blueprint.get("/reports/house.csv")
@operator_required
@validate_querystring(HouseQuery)
async def house_csv(query_args: HouseQuery) -> Response:
    """The house report as CSV (one row per game per day; amounts in KES)."""
    first, last, rows = await _report(query_args)
    lines = []
    for row in rows:
        shown = _day_out(row).model_dump()
        rtp = shown["rtp"]  # its ci95_low and ci95_high are columns under their own names
        lines.append(
            {**shown, **rtp, "observed_rtp": rtp["observed"], "theoretical_rtp": rtp["theoretical"]}
        )
    return _csv(f"house-{first.isoformat()}-{last.isoformat()}.csv", CSV_COLUMNS, lines)


def _csv(name: str, columns: list[str], lines: list[dict[str, Any]]) -> Response:
    """A report as a CSV attachment named `name`: `columns` of `lines` (None: empty)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(lines)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blueprint.get("/reports/taxes")
@operator_required
@validate_querystring(HouseQuery)
@validate_response(TaxReportOut)
async def taxes(query_args: HouseQuery) -> TaxReportOut:
    """Taxes levied per UTC day (excise on deposits, withholding on winnings and withdrawals)."""
    first, last = _days(query_args)
    rows = await reports.taxes(runtime().readers, first, last)
    return TaxReportOut(
        period={"from": first.isoformat(), "to": last.isoformat()},
        days=[_tax_day_out(row) for row in rows],
        total=format_cents(sum(row.amount for row in rows)),
    )


@blueprint.get("/reports/taxes.csv")
@operator_required
@validate_querystring(HouseQuery)
async def taxes_csv(query_args: HouseQuery) -> Response:
    """The tax report as CSV (one row per tax per day; amounts in KES)."""
    first, last = _days(query_args)
    rows = await reports.taxes(runtime().readers, first, last)
    lines = [_tax_day_out(row).model_dump() for row in rows]
    return _csv(f"taxes-{first.isoformat()}-{last.isoformat()}.csv", TAX_CSV_COLUMNS, lines)


def _tax_day_out(row: reports.TaxDay) -> TaxDayOut:
    return TaxDayOut(
        day=row.day.isoformat(),
        tax=row.tax,
        base=format_cents(row.base),
        amount=format_cents(row.amount),
        count=row.count,
    )


@blueprint.get("/ledger/check")
@operator_required
@validate_response(LedgerCheckOut)
async def ledger_check() -> LedgerCheckOut:
    """The ledger's invariants, checked now: {ok, problems}."""
    async with runtime().readers() as session:
        problems = await reports.ledger_check(session)
    return LedgerCheckOut(ok=not problems, problems=problems)
