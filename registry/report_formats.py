"""A stored report as CSV and as one self-contained HTML page.

The page carries its styles and its charts (pygal SVG, with pygal's tooltip script left out)
inline, and names no other file: it reads the same attached to an email, opened offline, or
behind a firewall.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from functools import lru_cache

import jinja2
from markupsafe import Markup

from registry.domain.actors import person
from registry.domain.criteria import rule_kind

CSV_COLUMNS = ("report_id", "model", "status", "production_version", "since", "promoted_by",
               "criterion", "observed", "expected", "margin", "passed", "message")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHART_STYLE = {"background": "white", "plot_background": "white", "foreground": "#333",
               "foreground_strong": "#111", "foreground_subtle": "#bbb",
               "colors": ("#1f6feb", "#cf222e"), "font_family": "system-ui, sans-serif",
               "label_font_size": 12, "major_label_font_size": 12, "legend_font_size": 12,
               # light solid guides, so the dashed red bound stands out from them
               "guide_stroke_color": "#e6e8eb", "major_guide_stroke_color": "#e6e8eb",
               "guide_stroke_dasharray": "0", "major_guide_stroke_dasharray": "0"}


def describe_rule(rule: dict) -> str:
    """A criterion in a few words, e.g. `live latency_ms <= 250 (at most 3600 s old)`."""
    kind = rule_kind(rule)
    if kind == "require":
        return "records " + ", ".join(rule["require"])
    if kind == "compare":
        allowed = rule.get("max_regression", 0)
        amount = f"{allowed * 100:g}%" if rule.get("relative") else f"{allowed:g}"
        better = "higher" if rule.get("higher_is_better", True) else "lower"
        return (f"{rule['metric']} no worse than production by more than {amount} "
                f"({better} is better)")
    source = "live " if rule.get("source") == "live" else ""
    text = f"{source}{rule['metric']} {rule['op']} {rule['threshold']:g}"
    return text + (f" (at most {rule['max_age_s']:g} s old)" if "max_age_s" in rule else "")


def _cell(value):
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with a '."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def report_csv(report: dict) -> str:
    """One row per model and criterion (one row for a model without any)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for section in report["models"]:
        production = section["production"] or {}
        head = [report["id"], section["model"], section["status"], production.get("version"),
                production.get("since"), production.get("promoted_by")]
        for result in section["criteria"] or [None]:
            tail = [None] * 6 if result is None else [
                describe_rule(result["rule"]), result["observed"], result["expected"],
                result["margin"], result["passed"], result["message"]]
            writer.writerow([_cell(value) for value in head + tail])
    return out.getvalue()


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _bound(expected) -> float | None:
    """The number in an expected value such as `>= 0.9`; None for anything else."""
    try:
        return float(str(expected).split()[-1])
    except (ValueError, IndexError):
        return None


TIME_FORMATS = ((dt.timedelta(minutes=2), "%H:%M:%S"), (dt.timedelta(days=1), "%H:%M"),
                (dt.timedelta(days=4), "%d %b %H:%M"), (dt.timedelta(days=300), "%d %b"),
                (dt.timedelta.max, "%b %Y"))
TIME_LABELS = 6


def time_labels(first: dt.datetime, last: dt.datetime) -> tuple[list[dt.datetime], str]:
    """At most TIME_LABELS evenly spaced instants across [first, last] and a format fine enough
    that each reads differently (one label when they all fall on one instant)."""
    span = last - first
    fmt = next(fmt for limit, fmt in TIME_FORMATS if span <= limit)
    if fmt in ("%H:%M", "%H:%M:%S") and first.date() != last.date():
        fmt = "%d %b " + fmt  # crosses midnight: say which day
    steps = range(TIME_LABELS) if span else range(1)
    instants = [first + span * i / (TIME_LABELS - 1) for i in steps]
    labels, seen = [], set()
    for instant in instants:
        if instant.strftime(fmt) not in seen:
            seen.add(instant.strftime(fmt))
            labels.append(instant)
    return labels, fmt


def _value_range(values: list[float], bound: float | None) -> tuple[float, float]:
    """The y range: every value and the bound, with room around them so the bound is never
    drawn on the axis."""
    shown = values + ([bound] if bound is not None else [])
    low, high = min(shown), max(shown)
    pad = (high - low) * 0.15 or abs(high) * 0.1 or 1.0
    return low - pad, high + pad


def trend_chart(line: dict) -> str:
    """An inline SVG line chart of one metric over time, with its bound as a dashed line."""
    import pygal  # imported when a page is drawn: it adds an import hook to the process

    points = [(_instant(p["at"]), p["value"]) for p in line["points"]]
    bound = _bound(line["bound"])
    labels, fmt = time_labels(points[0][0], points[-1][0]) if points else ([], "%d %b")
    chart = pygal.DateTimeLine(
        js=[], style=pygal.style.Style(**CHART_STYLE), width=960, height=260,
        explicit_size=False, show_legend=True, legend_at_bottom=True, truncate_label=-1,
        dots_size=3, title=line["metric"], x_label_rotation=0, x_labels=labels,
        show_minor_y_labels=False, y_labels_major_count=6,
        range=_value_range([value for _, value in points], bound) if points else None,
        x_value_formatter=lambda at: at.strftime(fmt))
    chart.add(line["metric"], points)
    if bound is not None and points:
        start, end = points[0][0], points[-1][0]
        if start == end:  # one instant: draw the bound across a visible width anyway
            start, end = start - dt.timedelta(minutes=1), end + dt.timedelta(minutes=1)
        chart.add(f"bound {line['bound']}", [(start, bound), (end, bound)],
                  show_dots=False, stroke_style={"dasharray": "6, 4", "width": 2})
    return chart.render(is_unicode=True, disable_xml_declaration=True)


ARRIVALS = {"promote": "promotion", "rollback": "rollback"}


def arrival(production: dict) -> str:
    """How the production version got there: `promotion by alice (forced)`, `rollback by the
    scheduler`."""
    move = ARRIVALS.get(production.get("arrived_by"), production.get("arrived_by") or "a move")
    forced = " (forced)" if production.get("forced") else ""
    return f"{move} by {person(production.get('promoted_by'))}{forced}"


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.PackageLoader("registry", "templates"),
                                     autoescape=True, trim_blocks=True, lstrip_blocks=True)
    environment.filters["rule"] = describe_rule
    environment.filters["person"] = person
    environment.filters["arrival"] = arrival
    environment.filters["num"] = lambda v: "" if v is None else (f"{v:.6g}" if isinstance(
        v, float) else v)
    environment.globals["chart"] = lambda line: Markup(trend_chart(line))
    return environment


def template(name: str) -> jinja2.Template:
    """A template of registry/templates, with the report filters."""
    return _templates().get_template(name)


def report_html(report: dict) -> str:
    """The report as one HTML page with no external references."""
    return template("report.html").render(report=report)
