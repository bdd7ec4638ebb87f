"""Server-side SVG charts: accessible, escaped, and free of anything the CSP would block."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tip_cases.reports.charts import bar_chart, line_chart

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own generated SVG, not untrusted input


def test_bar_chart_is_an_accessible_image_with_the_figures_in_its_description():
    svg = bar_chart("Crossings by post", ["Maseru Bridge", "Van Rooyen's Gate <b>"], [1200, None])
    root = parse(svg)  # well-formed XML, labels escaped
    assert root.get("role") == "img"
    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
    assert title.text == "Crossings by post"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "Maseru Bridge: 1,200" in desc.text and "Van Rooyen's Gate <b>: suppressed" in desc.text
    assert len(root.findall(f"{NS}rect")) == 1  # the suppressed bar is text, not a bar of length 0
    assert " style=" not in svg and "<script" not in svg


def test_bar_lengths_are_proportional():
    root = parse(bar_chart("t", ["a", "b"], [50, 100]))
    widths = [float(r.get("width")) for r in root.findall(f"{NS}rect")]
    assert widths[1] == pytest.approx(2 * widths[0])


def test_line_chart_has_one_line_per_series_and_a_legend():
    svg = line_chart("Per day", ["2026-01-01", "2026-01-02", "2026-01-03"],
                     {"Crossings": [10, 20, 15], "Flags": [1, 0, 2]})
    root = parse(svg)
    assert len(root.findall(f"{NS}polyline")) == 2
    desc = root.find(f"{NS}desc").text
    assert "from 2026-01-01 to 2026-01-03" in desc and "Crossings: 45 in total, peak 20" in desc
    assert " style=" not in svg


def test_empty_and_mismatched_data():
    assert "No data" in bar_chart("t", [], [])
    with pytest.raises(ValueError):
        line_chart("t", ["a"], {"s": [1, 2]})
