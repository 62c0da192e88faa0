"""Static HTML pages of a graded class: ``index.html`` (the class at a glance) and one page per
student with the report and a picture of the first divergence.

Everything is generated here, in Python, into self-contained files: the styles and the table's
sorting script are inline, the heat maps inline SVG; no file refers to another server, so the
pages open from a folder, offline, in any browser.

The picture of the first divergence draws three small heat maps of the quantity where the
student's numbers first leave the reference: the reference's (torch's) values, the student's, and
their difference, student minus reference. The reference and the student share one colour scale
(so a factor of 100, a missing f', shows as one map pale and the other saturated); the difference
has its own. A student's array that has the reference's shape transposed is drawn as it came, and
the difference is taken against its transpose, with the caption saying so: when that difference is
0 the gradient is right but stored transposed. The arrays come from the report's
``first_divergence["expected"]`` and ``["actual"]`` (nested lists; absent or None when the arrays
are too large to carry), else the page says there is no picture and why.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

CELL_MIN, CELL_MAX, MAP_SIZE = 2, 36, 300  # pixels: a cell at least and at most, a map's side at most
CELL_THIN = 16  # pixels: the short side of a cell of a long thin map, at least
DECADES = 3  # the shared colour scale of reference and student spans this many powers of ten
TITLES_MAX = 2500  # cells beyond which a map carries no per-cell tooltip (page size)


@dataclass
class StudentResult:
    """What a page shows of one student: the folder's name, the report (``to_dict()``), its text,
    and the score when a rubric gave one."""

    name: str
    report: dict
    text: str = ""
    score: float | None = None
    max_score: float | None = None
    seconds: float | None = None


def as_result(item) -> StudentResult:
    """A StudentResult from one, from a class run's ``Graded``, from a CheckReport, or from a
    dict with the keys ``report``
    (``to_dict()`` or a CheckReport), ``name``/``student``, ``text``, ``score``, ``max_score``,
    ``seconds``."""
    if isinstance(item, StudentResult):
        return item
    if hasattr(item, "student") and isinstance(getattr(item, "report", None), dict):
        # refmlp.check.grade.Graded: a student of a class run
        return StudentResult(item.student, item.report, item.text, item.score, item.max_score,
                             item.seconds)
    if hasattr(item, "to_dict"):
        d = item.to_dict()
        return StudentResult(Path(d["submission"]).name or d["submission"], d, item.to_text())
    if isinstance(item, dict):
        rep = item["report"]
        text = item.get("text") or ""
        if hasattr(rep, "to_dict"):
            text, rep = text or rep.to_text(), rep.to_dict()
        name = item.get("name") or item.get("student") or Path(rep.get("submission", "?")).name
        return StudentResult(name, rep, text, item.get("score"), item.get("max_score"),
                             item.get("seconds"))
    raise TypeError(f"a class result is a StudentResult, a CheckReport or a dict with 'report'; "
                    f"got {type(item).__name__}")


def write_pages(out_dir, results) -> Path:
    """Write ``out_dir/index.html`` and ``out_dir/<student>/index.html`` for every result (see
    :func:`as_result` for what a result may be); returns the index's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    students = [as_result(r) for r in results]
    for s in students:
        folder = out / safe_name(s.name)
        folder.mkdir(parents=True, exist_ok=True)
        files = [f for f in ("report.txt", "report.json") if (folder / f).is_file()]
        (folder / "index.html").write_text(student_page(s, files), encoding="utf-8")
    index = out / "index.html"
    index.write_text(class_page(students), encoding="utf-8")
    return index


def safe_name(name: str) -> str:
    """A student's folder under the output: their name (a class run's folder name, where their
    report.txt is too) unless it could leave the folder ("..", a separator) or is empty."""
    clean = re.sub(r"[/\\\x00]", "_", name)
    return "_" if clean in ("", ".", "..") else clean


# ---- pieces -------------------------------------------------------------------------------------
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; text-align: left; }
tbody tr:nth-child(odd) { background: #f6f6f6; }
th { border-bottom: 2px solid #999; background: #fff; }
th.sort { cursor: pointer; user-select: none; } th.sort:after { content: " \\2195"; color: #aaa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
.error { color: #8e24aa; font-weight: 600; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: 13px; line-height: 1.35; }
.maps { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
figure.map { margin: 0; } .map figcaption { font-size: 13px; color: #444; max-width: 300px; }
.cause { background: #fff4e5; border-left: 4px solid #f0a030; padding: .6em .9em; }
table.checks td { text-align: center; } table.checks td:first-child { text-align: left; }
.cards { display: flex; gap: 2.5em; flex-wrap: wrap; align-items: flex-start; }
.cards > div:last-child { flex: 1; min-width: 420px; }
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th.sort").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var up = th.dataset.dir !== "up";
      table.querySelectorAll("th.sort").forEach(function (h) { delete h.dataset.dir; });
      th.dataset.dir = up ? "up" : "down";
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.key, y = b.cells[col].dataset.key;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _page(title: str, body: str, script: str = "") -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n"
            + (f"<script>{script}</script>\n" if script else "") + "</body></html>\n")


def where(fd: dict | None, scenario: str | None = None) -> str:
    """'layer 2, b_derivs (disc)' for a first divergence, '-' for none."""
    if not fd:
        return "-"
    text = f"layer {fd['layer']}, {fd['quantity']}" if fd.get("layer") else str(fd.get("quantity"))
    return text + (f" ({scenario})" if scenario else "")


def _verdict(v: str) -> str:
    return f'<span class="{html.escape(v)}">{html.escape(v.upper())}</span>'


def _score(s: StudentResult) -> str:
    if s.score is None:  # no rubric: the checks that pass
        checks = s.report.get("checks") or []
        n = sum(c.get("verdict") == "pass" for c in checks)
        return f"{n}/{len(checks)} checks" if checks else "-"
    return f"{s.score:g} / {s.max_score:g}" if s.max_score is not None else f"{s.score:g}"


# ---- the class page -----------------------------------------------------------------------------
def histogram_svg(values, bins: int = 10, width: int = 420, height: int = 160,
                  label: str = "score, % of the maximum") -> str:
    """Bars of how many values (fractions in [0, 1]) fall in each of ``bins`` equal bins (the last
    one closed, so full marks fall in it)."""
    counts = [0] * bins
    for v in values:
        counts[min(int(max(v, 0.0) * bins), bins - 1)] += 1
    top = max(counts) or 1
    pad, base = 26, height - 32
    bw = (width - pad - 16) / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="histogram of {html.escape(label)}">']
    for i, c in enumerate(counts):
        h = (base - 14) * c / top
        x = pad + i * bw
        parts.append(f'<rect x="{x + 1:.1f}" y="{base - h:.1f}" width="{bw - 2:.1f}" '
                     f'height="{h:.1f}" fill="#4a7bb7"><title>{100 * i // bins}-'
                     f'{100 * (i + 1) // bins}%: {c}</title></rect>')
        if c:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{base - h - 3:.1f}" font-size="11" '
                         f'text-anchor="middle">{c}</text>')
    parts.append(f'<line x1="{pad}" y1="{base}" x2="{pad + bins * bw:.1f}" y2="{base}" stroke="#555"/>')
    for i in range(0, bins + 1, 2):
        parts.append(f'<text x="{pad + i * bw:.1f}" y="{base + 14}" font-size="11" '
                     f'text-anchor="middle">{100 * i // bins}</text>')
    parts.append(f'<text x="{pad + bins * bw / 2:.1f}" y="{height - 2}" font-size="11" '
                 f'fill="#666" text-anchor="middle">{html.escape(label)}</text></svg>')
    return "".join(parts)


def class_page(students: list[StudentResult]) -> str:
    n = len(students)
    verdicts = Counter(s.report.get("verdict", "error") for s in students)
    scored = [s for s in students if s.score is not None and s.max_score]
    if scored:
        fractions = [s.score / s.max_score for s in scored]
        hist = histogram_svg(fractions)
        mean = f", mean score {100 * sum(fractions) / len(fractions):.0f}% of the maximum"
    else:
        # no rubric: the share of each student's checks that pass stands in for the score
        fractions = [_passed_share(s.report) for s in students]
        hist = histogram_svg(fractions, label="checks passed, %")
        mean = ""
    causes = Counter(cause(s.report)[0] for s in students if s.report.get("verdict") != "pass")
    examples = {}
    for s in students:
        examples.setdefault(*cause(s.report))
    cause_rows = "".join(
        f'<tr><td><code>{html.escape(k)}</code></td><td class="num">{c}</td>'
        f'<td>{html.escape(_short(examples.get(k, ""), 90))}</td></tr>'
        for k, c in causes.most_common())
    rows = []
    for s in students:
        rep = s.report
        frac = s.score / s.max_score if s.score is not None and s.max_score else _passed_share(rep)
        fd = rep.get("first_divergence")
        key = cause(rep)[0] if rep.get("verdict") != "pass" else "-"
        link = quote(safe_name(s.name)) + "/index.html"
        rows.append(
            "<tr>"
            f'<td data-key="{html.escape(s.name)}"><a href="{link}">{html.escape(s.name)}</a></td>'
            f'<td class="num" data-key="{frac:.6f}">{html.escape(_score(s))}</td>'
            f'<td data-key="{html.escape(rep.get("verdict", "error"))}">'
            f'{_verdict(rep.get("verdict", "error"))}</td>'
            f'<td data-key="{html.escape(where(fd))}">'
            f'{html.escape(where(fd, rep.get("first_divergence_scenario")))}</td>'
            f'<td data-key="{html.escape(key)}"><code>{html.escape(key)}</code></td>'
            f'<td class="num" data-key="{s.seconds or 0:.3f}">'
            f'{"" if s.seconds is None else f"{s.seconds:.1f}"}</td>'
            "</tr>")
    body = f"""<h1>refmlp check: the class</h1>
<p class="sub">{n} students: {verdicts.get('pass', 0)} pass, {verdicts.get('fail', 0)} fail,
{verdicts.get('error', 0)} error{mean}</p>
<div class="cards">
<div><h2>Scores</h2>{hist}</div>
<div><h2>Most common causes</h2>
<table><thead><tr><th>diagnosis</th><th class="num">students</th><th>what it means</th></tr></thead>
<tbody>{cause_rows or '<tr><td colspan="3">every submission passes</td></tr>'}</tbody></table></div>
</div>
<h2>Students</h2>
<p class="sub">Click a column's title to sort by it; a name opens that student's page.</p>
<table class="sortable" id="students"><thead><tr>
<th class="sort">student</th><th class="sort num">score</th><th class="sort">verdict</th>
<th class="sort">first divergence</th><th class="sort">likely cause</th>
<th class="sort num">seconds</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>"""
    return _page("refmlp check: the class", body, SORT_SCRIPT)


NOT_CHECKED, UNKNOWN = "(not checked)", "(no known bug)"


def cause(rep: dict) -> tuple[str, str]:
    """(key, what it means) of a report's likely cause; a report that could not be checked, or
    whose figures fit no known bug, gets a key of its own saying so."""
    d = rep.get("diagnosis") or {}
    if d.get("key"):
        return d["key"], d.get("message") or ""
    if rep.get("verdict") == "error":
        return NOT_CHECKED, rep.get("message") or "the submission could not be checked"
    return UNKNOWN, "the numbers are wrong, and fit none of the bugs the checker knows"


def _passed_share(rep: dict) -> float:
    checks = rep.get("checks") or []
    return sum(c.get("verdict") == "pass" for c in checks) / len(checks) if checks else 0.0


def _short(text: str, n: int = 140) -> str:
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + " ..."


# ---- the student page ---------------------------------------------------------------------------
def colour(t: float) -> str:
    """t in [-1, 1] -> a diverging blue (negative) / white / red (positive) colour."""
    t = max(-1.0, min(1.0, t)) if math.isfinite(t) else 1.0
    end = (178, 24, 43) if t > 0 else (33, 102, 172)
    a = abs(t) ** 0.75  # a little lift for small values, so that they do not vanish into white
    r, g, b = (round(255 + (e - 255) * a) for e in end)
    return f"#{r:02x}{g:02x}{b:02x}"


def symlog(v: float, scale: float) -> float:
    """v in [-scale, scale] -> [-1, 1] on a log scale over DECADES powers of ten below ``scale``
    (0 below them): a value 100 x another is seen as such, and both stay visible."""
    if v == 0 or not math.isfinite(v):
        return 0.0 if v == 0 else math.copysign(1.0, v)
    level = 1 + math.log10(min(abs(v) / scale, 1.0)) / DECADES
    return math.copysign(max(level, 0.0), v)


def heatmap_svg(values, scale: float, title: str, log: bool = False) -> str:
    """An SVG grid of an array (a vector is one row), each cell coloured by value / scale, or by
    :func:`symlog` with ``log``."""
    a = np.asarray(values, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        a = a.reshape(1, -1)
    elif a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    rows, cols = a.shape
    # square cells where the array fits; a long thin one (a vector, W_1 of a 2-input network)
    # keeps its short side at least CELL_THIN, so that it stays a band one can see, not a line
    cw = max(CELL_MIN, min(CELL_MAX, MAP_SIZE / max(cols, 1)))
    ch = max(CELL_MIN, min(CELL_MAX, MAP_SIZE / max(rows, 1)))
    cw, ch = min(cw, max(ch, CELL_THIN)), min(ch, max(cw, CELL_THIN))
    w, h = cols * cw, rows * ch
    scale = scale if scale > 0 and math.isfinite(scale) else 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + 2:.0f}" height="{h + 2:.0f}" '
             f'role="img" aria-label="{html.escape(title)}" shape-rendering="crispEdges">']
    tips = a.size <= TITLES_MAX
    for i in range(rows):
        for j in range(cols):
            v = a[i, j]
            tip = f"<title>[{i}, {j}] = {v:.6g}</title>" if tips else ""
            parts.append(f'<rect x="{1 + j * cw:.2f}" y="{1 + i * ch:.2f}" width="{cw:.2f}" '
                         f'height="{ch:.2f}" fill="{colour(symlog(v, scale) if log else v / scale)}">'
                         f'{tip}</rect>')
    parts.append(f'<rect x="0.5" y="0.5" width="{w + 1:.1f}" height="{h + 1:.1f}" fill="none" '
                 'stroke="#888"/></svg>')
    return "".join(parts)


def _figure(values, scale, title, caption, log=False) -> str:
    return (f'<figure class="map">{heatmap_svg(values, scale, title, log)}'
            f"<figcaption><b>{html.escape(title)}</b><br>{html.escape(caption)}</figcaption></figure>")


def _shape(a) -> str:
    return " x ".join(map(str, a.shape)) or "a number"


def divergence_picture(fd: dict | None) -> str:
    """The three heat maps of the first divergence, or a line saying why there are none."""
    if not fd:
        return "<p>No divergence: every quantity matches the reference.</p>"
    exp, act = fd.get("expected"), fd.get("actual")
    if exp is None or act is None:
        why = ("it is not an array of a layer (" + html.escape(str(fd.get("quantity"))) + ")"
               if not fd.get("layer") else
               "its arrays are too large to carry in the report" if "expected" in fd else
               "the report does not carry its arrays")
        return f"<p>No picture of this divergence: {why}.</p>"
    try:
        e, a = np.asarray(exp, dtype=float), np.asarray(act, dtype=float)
    except (TypeError, ValueError):
        return "<p>No picture of this divergence: its arrays are not numbers.</p>"
    name = where(fd)
    seen = " ".join(x for x in (
        f"{fd['row']}" if fd.get("row") else "",
        f"in {fd['where']}" if fd.get("where") else "",
        f"(check {fd['check']}" + (f", scenario {fd['scenario']})" if fd.get("scenario") else ")")
        if fd.get("check") else "") if x)
    finite = [x[np.isfinite(x)] for x in (e, a)]
    scale = max((float(np.abs(x).max()) for x in finite if x.size), default=1.0)
    note = (f"colour: blue negative, red positive, on a log scale from {scale:.3g} down "
            f"{DECADES} powers of ten; hover a cell for its value")
    figs = [_figure(e, scale, f"reference {name}", f"{_shape(e)}; {note}", log=True),
            _figure(a, scale, f"yours {name}", f"{_shape(a)}; the same colours", log=True)]
    if a.shape == e.shape:
        d = a - e
        figs.append(_figure(d, _absmax(d), "yours - reference",
                            f"largest |difference| {_absmax(d):.3g}; colours scaled to it"))
        ratio = _constant_ratio(a, e)
        if ratio is not None:
            figs.append(f"<p>Yours is {ratio:.4g} x the reference everywhere it is not 0.</p>")
        elif a.ndim == 2 and a.shape[0] == a.shape[1] and _absmax(a.T - e) <= 1e-9 * scale:
            figs.append("<p>Yours is the reference transposed: the right numbers, stored "
                        "transposed.</p>")
    elif a.ndim == 2 and a.T.shape == e.shape:
        d = a.T - e
        figs.append(_figure(d, _absmax(d) or 1.0, "yours transposed - reference",
                            f"your array is {_shape(a)}, the reference {_shape(e)}: the "
                            f"difference is taken against yours transposed; largest |difference| "
                            f"{_absmax(d):.3g}"
                            + (" (it is 0: right numbers, stored transposed)"
                               if _absmax(d) <= 1e-9 * max(scale, 1e-300) else "")))
    else:
        figs.append(f"<p>The shapes differ ({_shape(a)} against {_shape(e)}): no difference "
                    "to draw.</p>")
    lead = f"<p>Where: {html.escape(seen)}.</p>" if seen else ""
    return f'{lead}<div class="maps">{"".join(figs)}</div>'


def _absmax(x) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.abs(x).max()) if x.size else 0.0


def _constant_ratio(a, e):
    """actual / expected when it is one constant (not 1) over the nonzero entries, else None."""
    mask = (np.abs(e) > 0) & np.isfinite(a) & np.isfinite(e)
    if mask.sum() < 2:
        return None
    r = a[mask] / e[mask]
    if np.ptp(r) <= 1e-6 * np.abs(r).max() and abs(r[0] - 1) > 1e-6:
        return float(r.mean())
    return None


MARK = {"pass": ("&#10003;", "pass"), "fail": ("&#10007;", "fail"), "error": ("!", "error")}


def checks_table(checks) -> str:
    """Scenarios down, check kinds across, a mark per check (a tooltip says its verdict)."""
    kinds, scenarios, cell = [], [], {}
    for c in checks:
        scen, kind = str(c.get("scenario") or ""), c.get("name", "")
        kinds += [kind] if kind not in kinds else []
        scenarios += [scen] if scen not in scenarios else []
        cell[scen, kind] = c.get("verdict", "error")
    if not checks:
        return ""
    head = "".join(f"<th>{html.escape(k)}</th>" for k in kinds)
    rows = []
    for scen in scenarios:
        tds = []
        for kind in kinds:
            v = cell.get((scen, kind))
            mark, cls = MARK.get(v, ("", ""))
            tds.append(f'<td class="{cls}" title="{html.escape(v or "not run")}">{mark}</td>')
        rows.append(f"<tr><td>{html.escape(scen)}</td>{''.join(tds)}</tr>")
    return (f'<table class="checks"><thead><tr><th>scenario</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def report_fragment(s: StudentResult, heading: str = "h2") -> str:
    """The student's part of a page: verdict, what to fix, the picture, the full report; its
    sections titled with ``heading`` (a notebook's output wants smaller ones than a page)."""
    h = heading
    rep = s.report
    fd = rep.get("first_divergence")
    diag = rep.get("diagnosis") or {}
    cause = (f'<div class="cause"><b>What to fix</b> (<code>{html.escape(diag["key"])}</code>): '
             f'{html.escape(diag.get("message") or "")}</div>' if diag.get("key") else "")
    message = f"<p>{html.escape(rep['message'])}</p>" if rep.get("message") else ""
    checks = checks_table(rep.get("checks") or ())
    score = f" &middot; score {html.escape(_score(s))}" if s.score is not None else ""
    return f"""<p class="sub">verdict {_verdict(rep.get('verdict', 'error'))}{score}
&middot; first divergence: {html.escape(where(fd, rep.get('first_divergence_scenario')))}</p>
{cause}{message}
<{h}>The first divergence</{h}>
{divergence_picture(fd)}
{f'<{h}>Checks</{h}>{checks}' if checks else ''}
<{h}>The report</{h}>
<pre>{html.escape(s.text or '(no text report)')}</pre>"""


def student_page(s: StudentResult, files=()) -> str:
    """A student's page; ``files``: names beside it to link to (report.txt, report.json)."""
    links = "".join(f' &middot; <a href="{quote(f)}">{html.escape(f)}</a>' for f in files)
    body = (f'<p><a href="../index.html">&larr; the class</a>{links}</p>\n'
            f"<h1>{html.escape(s.name)}</h1>\n{report_fragment(s)}")
    return _page(f"refmlp check: {s.name}", body)


NOTEBOOK_STYLE = """
.refmlp-report .pass { color: #1a7f37; font-weight: 600; }
.refmlp-report .fail { color: #c62828; font-weight: 600; }
.refmlp-report .error { color: #8e24aa; font-weight: 600; }
.refmlp-report .maps { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.refmlp-report figure.map { margin: 0; }
.refmlp-report .map figcaption { font-size: 12px; max-width: 300px; }
.refmlp-report .cause { background: #fff4e5; border-left: 4px solid #f0a030; padding: .5em .8em; }
.refmlp-report pre { max-height: 30em; overflow: auto; font-size: 12px; }
"""


def notebook_html(report) -> str:
    """A CheckReport as one HTML block for Jupyter (its styles scoped to the block)."""
    s = StudentResult(report.submission, report.to_dict(), report.to_text())
    return (f'<div class="refmlp-report"><style>{NOTEBOOK_STYLE}</style>'
            f"<b>refmlp check: {html.escape(s.name)}</b>{report_fragment(s, 'h4')}</div>")
