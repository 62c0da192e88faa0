"""The class's HTML pages: they parse, refer to nothing outside the folder, hold one table row per
student, and draw the first divergence so that a transposed gradient or a missing f' shows."""

from html.parser import HTMLParser
from urllib.parse import unquote

import numpy as np
import pytest

from refmlp.check.pages import StudentResult, divergence_picture, safe_name, write_pages


class Page(HTMLParser):
    """Tags, attributes, the students table's body rows and the text, and whether every tag that
    was opened was closed (void elements aside)."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "line"}

    def __init__(self, text):
        super().__init__()
        self.tags, self.stack, self.rows, self.text = [], [], 0, []
        self.in_students = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table" and dict(attrs).get("id") == "students":
            self.in_students = True
        if tag == "tr" and self.in_students and "tbody" in self.stack:
            self.rows += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()
        if tag == "table":
            self.in_students = False

    def handle_data(self, data):
        self.text.append(data)


def parse(path) -> Page:
    page = Page(path.read_text(encoding="utf-8"))
    assert page.stack == [], f"unclosed tags: {page.stack}"
    return page


def external(page: Page) -> list:
    """Every attribute that would make the browser fetch something from elsewhere."""
    out = []
    for tag, attrs in page.tags:
        for key in ("href", "src", "xlink:href", "action"):
            value = attrs.get(key) or ""
            if "://" in value or value.startswith("//"):
                out.append((tag, key, value))
        if tag in ("link", "iframe", "img", "object", "embed") or (tag == "script" and "src" in attrs):
            out.append((tag, attrs))
    return out


def report(verdict, fd=None, key=None, checks=(("disc", "forward", "pass"),)):
    return {"verdict": verdict, "submission": "x", "api": "MLP",
            "checks": [{"name": n, "scenario": s, "verdict": v, "details": {"rows": []}}
                       for s, n, v in checks],
            "first_divergence": fd, "first_divergence_scenario": "disc" if fd else None,
            "diagnosis": {"key": key, "message": f"what {key} means"} if key else None,
            "helpers": []}


W = np.arange(1.0, 9.0).reshape(4, 2) / 10  # (out, in) = (4, 2)
CLASS = [
    StudentResult("alice", report("pass"), "verdict: PASS", 10, 10, 1.2),
    StudentResult("bob", report("fail", {"layer": 1, "quantity": "W_derivs", "expected": W.tolist(),
                                         "actual": W.T.tolist()}, "W_derivs_transposed"),
                  "verdict: FAIL", 4, 10, 1.5),
    StudentResult("carol", report("fail", {"layer": 1, "quantity": "W_derivs", "expected": W.tolist(),
                                           "actual": (W * [[100], [1], [100], [1]]).tolist()},
                                  "fprime_missing"), "verdict: FAIL", 6, 10, 1.1),
    StudentResult("dan <script>", report("fail", {"layer": 2, "quantity": "b_derivs"},
                                         "fprime_missing"), "", 6.5, 10, 0.9),
    StudentResult("erin", report("error", checks=()), "could not be loaded", 0, 10, 0.3),
]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("pages")
    write_pages(out, CLASS)
    return out


def test_index_parses_has_a_row_per_student_and_fetches_nothing(pages):
    page = parse(pages / "index.html")
    assert page.rows == len(CLASS)
    assert external(page) == []
    text = " ".join(" ".join(page.text).split())
    assert "5 students: 1 pass, 3 fail, 1 error" in text
    links = [a["href"] for t, a in page.tags if t == "a"]
    assert len(links) == len(CLASS) and all(link.endswith("/index.html") for link in links)
    for link in links:
        assert (pages / unquote(link)).is_file(), link


def test_index_counts_the_most_common_causes_and_draws_the_scores(pages):
    page = parse(pages / "index.html")
    cells = [t for t in page.text if t.strip()]
    i = cells.index("fprime_missing")
    assert cells[i + 1] == "2"  # carol and dan; the table lists it first, as the most common
    assert cells.index("fprime_missing") < cells.index("W_derivs_transposed")
    bars = [a for t, a in page.tags if t == "rect"]
    assert len(bars) == 10  # one bar per tenth of the maximum score
    assert any(t == "script" for t, _ in page.tags)  # the table's sorting, inline


def test_student_names_are_escaped_and_folders_safe(pages):
    page = (pages / safe_name("dan <script>") / "index.html").read_text()
    assert "dan &lt;script&gt;" in page and "<script>" not in page
    assert safe_name("../../etc") == ".._.._etc" and safe_name("..") == "_"
    assert safe_name("") == "_" and safe_name("Ann Lee") == "Ann Lee"


def test_every_student_page_parses_and_links_back(pages):
    for s in CLASS:
        page = parse(pages / safe_name(s.name) / "index.html")
        assert external(page) == []
        assert ("a", {"href": "../index.html"}) in page.tags


def test_a_transposed_gradient_is_drawn_against_its_transpose():
    html = divergence_picture(CLASS[1].report["first_divergence"])
    assert "your array is 2 x 4, the reference 4 x 2" in html
    assert "it is 0: right numbers, stored transposed" in html
    assert html.count("<svg") == 3


def test_a_missing_fprime_shows_in_the_difference_rows():
    fd = CLASS[2].report["first_divergence"]
    html = divergence_picture(fd)
    assert html.count("<svg") == 3
    diff = html[html.rindex("<svg"):]
    # rows 0 and 2 (x 100) differ, rows 1 and 3 are exact: white cells there, coloured ones here
    colours = [c.split('"')[0] for c in diff.split('fill="')[1:] if c.startswith("#")]
    grid = np.array(colours[:8]).reshape(4, 2)
    assert (grid[[1, 3]] == "#ffffff").all() and (grid[[0, 2]] != "#ffffff").all()


def test_no_picture_says_why():
    assert "does not carry its arrays" in divergence_picture({"layer": 2, "quantity": "g"})
    assert "too large" in divergence_picture({"layer": 2, "quantity": "g", "expected": None,
                                              "actual": None})
    assert "not an array of a layer (exception)" in divergence_picture(
        {"layer": None, "quantity": "exception"})
    assert "No divergence" in divergence_picture(None)


def test_a_class_run_with_out_writes_the_pages_beside_the_reports(tmp_path, capsys):
    from check_fixtures import FPRIME_MISSING, submission
    from refmlp.cli import main

    submission(tmp_path / "class" / "ann")
    submission(tmp_path / "class" / "ben", replace=[FPRIME_MISSING])
    out = tmp_path / "graded"
    # --seed 0: a class run draws a seed of its own otherwise, and the row quoted below with it
    assert main(["check", "--each", str(tmp_path / "class"), "--scenario", "disc", "--jobs", "1",
                 "--seed", "0", "--out", str(out)]) == 1
    capsys.readouterr()
    index = parse(out / "index.html")
    assert index.rows == 2 and external(index) == []
    ben = parse(out / "ben" / "index.html")
    assert ("a", {"href": "report.txt"}) in ben.tags and (out / "ben" / "report.txt").is_file()
    text = " ".join(" ".join(ben.text).split())
    assert "fprime_missing" in text and "/ 100" in text  # the rubric's score
    # the report carries the first divergence's arrays: the three heat maps of b_derivs_2
    assert sum(t == "svg" for t, _ in ben.tags) == 3 and "b_derivs_2 in sample x0" in text


def test_checks_are_a_table_of_scenarios_by_check_kind():
    from refmlp.check.pages import checks_table

    checks = [{"scenario": s, "name": k, "verdict": v} for s, k, v in (
        ("disc", "forward", "pass"), ("disc", "gradients", "fail"),
        ("square", "forward", "pass"), ("square", "gradients", "error"))]
    page = Page(checks_table(checks))
    cells = [a for t, a in page.tags if t == "td" and "title" in a]
    assert [c["title"] for c in cells] == ["pass", "fail", "pass", "error"]
    assert [t for t in page.text if t in ("disc", "square")] == ["disc", "square"]
    assert checks_table([]) == ""


def test_non_finite_values_are_drawn_not_crashed_on():
    fd = {"layer": 1, "quantity": "a", "expected": [[1.0, -2.0], [0.5, 0.0]],
          "actual": [[float("nan"), float("inf")], [0.5, 0.0]]}
    html = divergence_picture(fd)
    assert html.count("<svg") == 3 and "= nan</title>" in html and "= inf</title>" in html


def test_a_long_vector_is_drawn_as_a_band_one_can_see():
    from refmlp.check.pages import CELL_THIN, heatmap_svg

    svg = heatmap_svg(np.linspace(-1, 1, 100), 1.0, "g_1")
    height = float(svg.split('height="')[1].split('"')[0])
    width = float(svg.split('width="')[1].split('"')[0])
    assert height >= CELL_THIN and width <= 302  # one row of 100 cells, within the map's side
    assert svg.count("<rect") == 100 + 1  # the cells and the frame
