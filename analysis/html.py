"""The report as one self-contained HTML file: inline CSS and SVG charts, Chinese labels,
print styles (A4 landscape, tables repeat their header on each page). No script, no font or
CDN fetch: it opens offline and prints as shown."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

from analysis.alarm_events import LATENCY_BUCKETS
from analysis.columns import (
    EXPOSED,
    LEVEL_NAMES,
    NO_DATA,
    number,
    ranking_table,
    region_table,
    table,
    text_columns,
)
from analysis.period import local_text
from analysis.report import LEVELS, DayPoint, Report
from gateway.core.clinic_time import CLINIC_TZ

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:16px;
color:#222;font-size:13px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;border-bottom:2px solid #2b6cb0;
padding-bottom:2px;margin-top:22px}
.meta{color:#555}.doubt{background:#fff3cd;border:1px solid #d69e2e;padding:6px 10px}
.cards{display:flex;gap:10px;flex-wrap:wrap;margin:10px 0}
.card{border:1px solid #ccd;border-radius:6px;padding:6px 12px;min-width:90px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;margin:6px 0;font-size:11px}
th,td{border:1px solid #bbb;padding:2px 4px;text-align:right;white-space:nowrap}
th{background:#edf2f7;position:sticky;top:0}td.t{text-align:left}
td.nodata{background:#fde2e2;color:#a00;font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #ddd;padding:4px}
.wide{overflow-x:auto}
@media print{@page{size:A4 landscape;margin:10mm}body{margin:0}.wide{overflow:visible}
thead{display:table-header-group}tr,svg{page-break-inside:avoid}h2{page-break-after:avoid}}
"""


EXPOSURE_NOTE = (
    f"{EXPOSED} = 本月开始的温度异常期间在该间室内的疫苗剂次（按网关台账的入库与移库记录），"
    "仅含启用了台账的网关；这些疫苗已隔离待处置。"
)


def bar_chart(title: str, items: list[tuple[str, float]], unit: str, limit: float = 0) -> str:
    """A horizontal bar chart as inline SVG (one bar per item, value printed at its end)."""
    items = items[:25]
    width, label_w, bar_w, row_h = 520, 170, 290, 18
    height = 30 + row_h * max(len(items), 1)
    top = max([limit, *(value for _, value in items)]) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    if not items:
        parts.append(f'<text x="4" y="40" font-size="12" fill="#777">{NO_DATA}</text>')
    for index, (label, value) in enumerate(items):
        y = 26 + index * row_h
        length = bar_w * max(value, 0.0) / top
        parts += [
            f'<text x="{label_w - 4}" y="{y + 12}" font-size="11" '
            f'text-anchor="end">{escape(label)}</text>',
            f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{row_h - 5}" '
            'fill="#3182ce"/>',
            f'<text x="{label_w + length + 3:.1f}" y="{y + 12}" font-size="11">'
            f"{escape(number(value))}{escape(unit)}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


_COLORS = ("#c53030", "#2b6cb0", "#2f855a", "#805ad5", "#b7791f", "#319795")


def curve_chart(
    title: str, lines: list[tuple[str, list[DayPoint]]], start_ms: int, end_ms: int
) -> str:
    """Daily minimum-maximum bands and mean lines of a fridge's probes, as inline SVG."""
    width, height, left, top, bottom = 520, 200, 40, 24, 24
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
    values = [v for _, days in lines for _, low, high, _ in days for v in (low, high)]
    if not values:
        return f'{svg}height="40"><text x="4" y="20">{escape(title)}：{NO_DATA}</text></svg>'
    low_c, high_c = min(values) - 1.0, max(values) + 1.0
    plot_w, plot_h = width - left - 8, height - top - bottom

    def x(t: int) -> float:
        return left + plot_w * (t - start_ms) / max(1, end_ms - start_ms)

    def y(c: float) -> float:
        return top + plot_h * (high_c - c) / (high_c - low_c)

    def text(at_x: float, at_y: float, content: str, extra: str = "") -> str:
        return f'<text x="{at_x:.1f}" y="{at_y:.1f}" font-size="10"{extra}>{escape(content)}</text>'

    right = ' text-anchor="end"'
    parts = [
        f'{svg}height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        text(left - 4, y(high_c - 1.0) + 4, f"{number(high_c - 1.0)}℃", right),
        text(left - 4, y(low_c + 1.0) + 4, f"{number(low_c + 1.0)}℃", right),
        text(left, height - 6, local_text(start_ms)[:5]),
        text(left + plot_w, height - 6, local_text(end_ms - 1)[:5], right),
    ]
    day = 86_400_000
    for index, (label, days) in enumerate(lines):
        color = _COLORS[index % len(_COLORS)]
        parts += [
            f'<rect x="{x(start):.1f}" y="{y(high):.1f}" width="{x(start + day) - x(start):.1f}" '
            f'height="{max(1.0, y(low) - y(high)):.1f}" fill="{color}" opacity="0.25"/>'
            for start, low, high, _ in days
        ]
        mean = " ".join(f"{x(start + day // 2):.1f},{y(avg):.1f}" for start, _, _, avg in days)
        parts += [
            f'<polyline points="{mean}" fill="none" stroke="{color}" stroke-width="1.5"/>',
            text(left + 4 + 120 * index, top + 10, label, f' fill="{color}"'),
        ]
    parts.append("</svg>")
    return "".join(parts)


def _label(report: Report, code: str) -> str:
    name = report.name(code)
    return f"{name}（{code}）" if name else code


def _curves(report: Report) -> str:
    charts = [
        curve_chart(
            f"{_label(report, place.unit)} / {report.fridge_label(place)}",
            lines,
            report.start_ms,
            report.end_ms,
        )
        for place, lines in report.curves.items()
    ]
    if not charts:
        return "<p>无</p>"
    boxes = "".join(f'<div class="chart">{chart}</div>' for chart in charts)
    return f'<div class="charts">{boxes}</div>'


def _missing(report: Report) -> str:
    """Clinics without data, then those whose gateways reported fewer days than the month."""
    items = [
        f"{_label(report, row.place.unit)}：本月无数据"
        for row in report.rows["clinic"]
        if not row.stats.has_data
    ]
    items += [
        f"{_label(report, unit)}：{days} 天无每日数据（网关离线或迟报）"
        for unit, days in report.late
    ]
    if not items:
        return "<p>无</p>"
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def _table(header: list[str], rows: list[list[str]], text_columns: int) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            css = "t" if index < text_columns else ""
            if cell.startswith(NO_DATA):
                css = "nodata"
            cells.append(
                f'<td class="{css}">{escape(cell)}</td>' if css else f"<td>{escape(cell)}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="wide"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _charts(report: Report) -> str:
    clinics = [
        (report.name(row.place.unit) or row.place.unit, row.stats.completeness)
        for row in report.rows["clinic"]
    ]
    devices = [
        (
            f"{report.name(r.place.unit) or r.place.unit}/"
            f"{report.fridge_name(r.place) or r.place.fridge}",
            float(r.problems),
        )
        for r in report.device_ranking
    ]
    latency: dict[str, int] = dict.fromkeys(LATENCY_BUCKETS, 0)
    for row in report.rows["region"]:
        for bucket, count in row.alarms.latency.items():
            latency[bucket] += count
    regions = [
        (report.name(r.place.region) or r.place.region or "(无)", r.problem_share)
        for r in report.region_ranking
    ]
    charts = [
        bar_chart("各单位数据完整率", clinics, "%", 100.0),
        bar_chart("问题设备排名（问题数）", devices, ""),
        bar_chart("报警确认时间分布（分钟）", list(latency.items()), "次"),
        bar_chart("各区域问题设备占比", regions, "%", 100.0),
    ]
    return (
        '<div class="charts">' + "".join(f'<div class="chart">{c}</div>' for c in charts) + "</div>"
    )


def render_html(report: Report) -> str:
    regions = report.rows["region"]
    total_fridges = sum(r.fridges for r in regions)
    problem_fridges = sum(r.problem_fridges for r in regions)
    alarms = sum(r.alarms.total for r in regions)
    no_data = sum(1 for r in report.rows["clinic"] if not r.stats.has_data)
    generated = datetime.now(UTC).astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
    cards = [
        ("区域", len(regions)),
        ("单位", len(report.rows["clinic"])),
        ("冰箱", total_fridges),
        ("问题设备", problem_fridges),
        ("报警", alarms),
        ("无数据单位", no_data),
    ]
    if report.exposure_shown:
        cards.append((EXPOSED, report.doses_exposed))
    parts = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(report.title)} {escape(report.month)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(report.title)}（{escape(report.month)}）</h1>",
        *(f'<p class="doubt"><b>注意：</b>{escape(doubt)}</p>' for doubt in report.doubts),
        f'<p class="meta">范围：{escape(report.scope)}　生成时间：{generated}　'
        f"采样间隔：{number(report.interval_s)} 秒　"
        "温度范围：冷藏 2–8 ℃，冷冻 ≤ −15 ℃（另有覆盖时以覆盖为准）</p>",
        '<div class="cards">'
        + "".join(f'<div class="card">{escape(k)}<b>{v}</b></div>' for k, v in cards)
        + "</div>",
        "<h2>数据缺失与迟报的单位</h2>",
        _missing(report),
        "<h2>问题设备排名</h2>",
        _table(*ranking_table(report), 5 if report.names else 4),
        "<h2>问题设备温度曲线（每日最低–最高，线为日均）</h2>",
        _curves(report),
        "<h2>区域问题设备占比排名</h2>",
        _table(*region_table(report), 3 if report.names else 2),
        "<h2>图表</h2>",
        _charts(report),
    ]
    for level in reversed(LEVELS):
        header, rows = table(report, level)
        parts += [
            f"<h2>按{LEVEL_NAMES[level]}统计</h2>",
            _table(header, rows, text_columns(report, level)),
        ]
    parts.append("<h2>说明</h2><ul>")
    explanations = [
        "数据完整率 = 实际有效读数 / 按采样间隔应有读数；"
        "无任何读数的设备显示“无数据”，不视为正常。",
        "超范围分钟按“采样保持”计算：每个有效读数代表到下一读数为止的时间"
        "（间隔不超过最大间隔），否则代表一个采样间隔。",
        "平均动力学温度（MKT）：ΔH/R = 10000 K，按读数代表时间加权。",
        "WHO 30 天温度记录仪报警：≥ +8.0 ℃ 连续 10 小时（高温），"
        "≤ −0.5 ℃ 连续 60 分钟（冷冻），仅冷藏间室，阈值含等号。",
        "报警确认时间 = 首次确认 − 报警开始；升级至二级/三级 = 报警已通知第二/三级责任人。",
        "冷藏与冷冻间室合并的行（冰箱、单位、区域）不给出温度值（显示“—”），请看间室表。",
        f"人工记录合规：{report.manual_records}。",
        *([EXPOSURE_NOTE] if report.exposure_shown else []),
        *report.notes,
    ]
    parts += [f"<li>{escape(text)}</li>" for text in explanations]
    parts.append("</ul></body></html>")
    return "".join(parts)


def write_html(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
