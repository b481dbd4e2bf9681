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

from registry.domain.criteria import rule_kind

CSV_COLUMNS = ("report_id", "model", "status", "production_version", "since", "promoted_by",
               "criterion", "observed", "expected", "margin", "passed", "message")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHART_STYLE = {"background": "white", "plot_background": "white", "foreground": "#333",
               "foreground_strong": "#111", "foreground_subtle": "#bbb",
               "colors": ("#1f6feb", "#cf222e"), "font_family": "system-ui, sans-serif",
               "label_font_size": 11, "major_label_font_size": 11, "legend_font_size": 12}


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


def trend_chart(line: dict) -> str:
    """An inline SVG line chart of one metric over time, with its bound as a second line."""
    import pygal  # imported when a page is drawn: it adds an import hook to the process

    chart = pygal.DateTimeLine(js=[], style=pygal.style.Style(**CHART_STYLE), width=640,
                               height=240, explicit_size=True, show_legend=True, legend_at_bottom=True, x_label_rotation=15,
                               truncate_label=-1, dots_size=3, title=line["metric"],
                               show_minor_x_labels=False, x_labels_major_count=5,
                               show_minor_y_labels=False, y_labels_major_count=6,
                               x_value_formatter=lambda at: at.strftime("%d %b %H:%M"))
    points = [(_instant(p["at"]), p["value"]) for p in line["points"]]
    chart.add(line["metric"], points)
    bound = _bound(line["bound"])
    if bound is not None and points:
        chart.add(f"bound {line['bound']}", [(points[0][0], bound), (points[-1][0], bound)],
                  show_dots=False, stroke_style={"dasharray": "6, 4"})
    return chart.render(is_unicode=True, disable_xml_declaration=True)


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.PackageLoader("registry", "templates"),
                                     autoescape=True, trim_blocks=True, lstrip_blocks=True)
    environment.filters["rule"] = describe_rule
    environment.filters["num"] = lambda v: "" if v is None else (f"{v:.6g}" if isinstance(
        v, float) else v)
    environment.globals["chart"] = lambda line: Markup(trend_chart(line))
    return environment


def report_html(report: dict) -> str:
    """The report as one HTML page with no external references."""
    return _templates().get_template("report.html").render(report=report)
