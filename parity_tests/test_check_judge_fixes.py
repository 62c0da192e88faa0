"""Regressions for the reviewer's findings against the checker's judging side (judge, diagnosis,
discovery, the sandbox's Recorder): each test is a small submission written to tmp_path."""

import pytest

from check_fixtures import submission
from refmlp.check import check_submission

H_LINE = "            h = self.h[k] = self.fs[k](self.a[k])"
FD_LINE = "                g = g * self.fds[k](self.a[k])"

PER_ELEMENT = {
    "loop": [
        (H_LINE, "            h = self.h[k] = (np.array([self.fs[k](ai) for ai in self.a[k]])\n"
                 "                             if k < len(self.Ws) - 1 else self.fs[k](self.a[k]))"),
        (FD_LINE, "                g = g * np.array([self.fds[k](ai) for ai in self.a[k]])")],
    "vectorize": [  # np.vectorize calls f once more, on the first element, to learn the type
        (H_LINE, "            h = self.h[k] = (np.vectorize(self.fs[k])(self.a[k])\n"
                 "                             if k < len(self.Ws) - 1 else self.fs[k](self.a[k]))")],
}


@pytest.mark.parametrize("style", sorted(PER_ELEMENT))
def test_f_applied_per_element_is_not_a_failure(tmp_path, style):
    # finding 13: every number is right; the checker sees 0-d arguments to f and f'
    rep = check_submission(submission(tmp_path, replace=PER_ELEMENT[style]),
                           scenarios=["disc", "autoencoder"], timeout=20)
    assert rep.verdict == "pass", rep.to_text()
    forward = next(c for c in rep.checks if c.name == "forward")
    assert any(r.quantity == "a" and r.layer == 1 for _, r, _ in forward.rows)  # a_1 still judged


def test_f_per_element_with_a_wrong_a_still_fails(tmp_path):
    # the per-element a_k is judged: a forward without b_1 fails at (1, "a")
    rep = check_submission(submission(tmp_path, replace=PER_ELEMENT["loop"] + [
        ("self.a[k] = self.Ws[k] @ h + self.bs[k]",
         "self.a[k] = self.Ws[k] @ h + (self.bs[k] if k else 0)")]),
        scenarios=["disc"], timeout=20)
    assert rep.verdict == "fail"
    assert rep.first_divergence == {"layer": 1, "quantity": "a"}
