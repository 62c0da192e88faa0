"""refmlp check: judge a student's backprop homework against the reference.

    from refmlp.check import check_submission
    report = check_submission("path/to/submission")     # a folder with mlp.py, or the file
    print(report.to_text()); report.to_dict(); report.exit_code   # 0 pass, 1 fail, 2 error

The student's code runs only in a sandboxed subprocess (refmlp/check/sandbox/worker.py, numpy
only); this process computes every expectation with refmlp and torch. Modules, one job each:
scenarios (the networks), plan (the calls each check makes), runner (the sandbox from the judge's
side), weights (the proof that every network ran on the checker's weights), judge (expectations
and rows), diagnosis (which known bug the figures fit), helpers (the
student's own layers.py / losses.py), report (text and JSON), submission (check_submission).
"""


def check_submission(path, **kwargs):
    """See :func:`refmlp.check.submission.check_submission`."""
    from .submission import check_submission as run

    return run(path, **kwargs)


__all__ = ["check_submission"]
