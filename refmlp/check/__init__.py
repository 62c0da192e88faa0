"""refmlp check: judge a student's backprop homework against the reference.

    from refmlp.check import check_submission
    report = check_submission("path/to/submission")     # a folder with mlp.py, or the file
    report = check_class(MLP)                           # in a notebook: the class, by its source
    print(report.to_text()); report.to_dict(); report.exit_code   # 0 pass, 1 fail, 2 error

The student's code runs only in a sandboxed subprocess (refmlp/check/sandbox/worker.py, numpy
only); this process computes every expectation with refmlp and torch. Modules, one job each:
scenarios (the networks), plan (the inputs and steps), kinds (each check kind's calls, samples and
rows, one entry each), runner (the sandbox from the judge's side), weights (the proof that every network ran on
the checker's weights), judge (expectations and rows),
diagnosis (which known bug the figures fit), helpers (the student's own layers.py / losses.py,
judged apart), unfinished (methods still stubs, read with ast), report (text and JSON), repro
(--repro's script), submission (check_submission).
"""


def check_submission(path, **kwargs):
    """See :func:`refmlp.check.submission.check_submission`."""
    from .submission import check_submission as run

    return run(path, **kwargs)


def check_class(cls, **kwargs):
    """See :func:`refmlp.check.notebook.check_class`: check a class defined in a notebook."""
    from .notebook import check_class as run

    return run(cls, **kwargs)


def check_source(text, **kwargs):
    """See :func:`refmlp.check.notebook.check_source`: check the text of an mlp.py."""
    from .notebook import check_source as run

    return run(text, **kwargs)


__all__ = ["check_class", "check_source", "check_submission"]
