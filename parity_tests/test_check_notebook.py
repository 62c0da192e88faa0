"""Checking from a notebook: check_class(MLP) sends the class's source (and what it uses) to the
sandbox; check_source(text) a file's text; the report's repr is one line, its HTML the report."""

import importlib.util
import linecache
import sys
from html.parser import HTMLParser

import pytest

from check_fixtures import CORRECT, FPRIME_MISSING
from refmlp.check import check_class, check_source
from refmlp.check.notebook import SourceUnavailable, class_source

# the correct class with its work spread over a helper function, a constant and a numpy alias,
# as notebooks do; X and y are notebook globals that the methods' own locals shadow
CELL = CORRECT.replace("import numpy as np", "import numpy as numpy_alias\nnp = numpy_alias") \
    .replace("from layers import *\nfrom losses import *\n", "") \
    .replace("self.Ws.append(0.1 * np.random.randn(m, n))",
             "self.Ws.append(init_weights(m, n))") + '''
SCALE = 0.1

def init_weights(m, n):
    return SCALE * np.random.randn(m, n)

X = np.zeros((5, 2))
y = np.ones(5)
'''


def one_line(rep, *parts):
    """The repr is one line, names the report, and holds each of ``parts`` (any case)."""
    line = repr(rep)
    assert "\n" not in line and line.startswith("<CheckReport") and len(line) < 300, line
    for part in parts:
        assert part.lower() in line.lower(), (part, line)
    return line


def define(tmp_path, source, name="student_cell"):
    """The module a notebook's cell would make (the test's own code, never a student's)."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_a_cell(source, filename="<ipython-input-7-0a1b2c3d>"):
    """Run source as IPython runs a cell: compiled under a made-up name whose text linecache
    holds, in a namespace that is no importable module's."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def test_class_source_brings_the_helpers_constants_and_imports_it_uses(tmp_path):
    module = define(tmp_path, CELL)
    text = class_source(module.MLP)
    assert "import numpy as np" in text and "SCALE = 0.1" in text
    assert "def init_weights(m, n):" in text and "class MLP:" in text
    assert "X =" not in text and "y =" not in text  # globals the class never reads
    compile(text, "mlp.py", "exec")


def test_a_class_of_another_name_and_its_base_are_sent_as_mlp():
    namespace = in_a_cell("import numpy as np\nclass Base:\n    def zero_grad(self):\n"
                          "        return np.zeros(1)\nclass MyNet(Base):\n"
                          "    def forward(self, x):\n        return x\n",
                          filename="<ipython-input-9-abcd>")
    text = class_source(namespace["MyNet"])
    assert text.index("class Base:") < text.index("class MyNet(Base):")
    assert text.rstrip().endswith("class MLP(MyNet):\n    pass")
    assert "import numpy as np" in text


def test_check_class_passes_a_correct_class(tmp_path):
    module = define(tmp_path, CELL)
    rep = check_class(module.MLP, scenarios=["disc"])
    assert rep.verdict == "pass", rep.to_text()
    one_line(rep, "pass", "class MLP")


def test_the_repr_of_a_source_that_cannot_be_checked_says_why():
    one_line(check_source("x = 1\n"), "error", "defines no class MLP")


def test_check_class_from_a_notebook_cell_and_its_report_in_html():
    namespace = in_a_cell(CELL.replace(*FPRIME_MISSING))
    rep = check_class(namespace["MLP"], scenarios=["disc"])
    assert rep.verdict == "fail"
    one_line(rep, "fail", "class MLP", "b_derivs", "disc", "fprime_missing")
    page = rep._repr_html_()
    parser = HTMLParser()
    parser.feed(page)
    parser.close()
    assert "fprime_missing" in page and "verdict: FAIL" in page
    assert page.count("<svg") == 3  # the first divergence's three heat maps
    # nothing fetched at view time: the only URL allowed is SVG's namespace name, never loaded
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_a_class_typed_into_the_plain_interpreter_says_what_to_do():
    namespace = {"__name__": "__main__"}
    exec(compile("class MLP:\n    def forward(self, x):\n        return x\n", "<stdin>", "exec"),
         namespace)
    with pytest.raises(SourceUnavailable, match="class MLP is not available.*check_source"):
        class_source(namespace["MLP"])


def test_a_global_without_source_is_named():
    namespace = in_a_cell("import numpy as np\nW0 = np.ones((2, 2))\nclass MLP:\n"
                          "    def forward(self, x):\n        return W0 @ x\n",
                          filename="<ipython-input-8-ffff>")
    with pytest.raises(SourceUnavailable, match="global 'W0', a ndarray"):
        class_source(namespace["MLP"])


def test_check_class_takes_the_class_not_an_instance():
    with pytest.raises(TypeError, match=r"check_class\(MLP\), not an instance"):
        check_class(object())


def test_check_source_checks_a_file_text_and_names_it():
    rep = check_source(CORRECT.replace(*FPRIME_MISSING), name="mlp.py (cell 3)",
                       scenarios=["disc"])
    assert rep.verdict == "fail" and rep.diagnosis["key"] == "fprime_missing"
    one_line(rep, "fail", "mlp.py (cell 3)", "fprime_missing")
    broken = check_source("class MLP:\n    def forward(self:\n", scenarios=["disc"])
    assert broken.verdict == "error"
    one_line(broken, "error", "<source>")
    with pytest.raises(TypeError, match="as a str; got bytes"):
        check_source(b"class MLP: pass")


def teardown_module():
    for key in [k for k in linecache.cache if k.startswith("<ipython-input-")]:
        del linecache.cache[key]
    sys.modules.pop("student_cell", None)
