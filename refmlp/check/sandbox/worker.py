"""The sandbox worker: runs a submission's code, one check per forked child, and sends arrays back.

Started by refmlp.check.runner as ``python -I worker.py REQUEST_DIR`` with numpy as its only
import (never refmlp, never torch): it loads the folder it sits in as a package of its own, by
path. It reads the request (request.json, inputs.npz with allow_pickle=False) and the
submission's files into memory *before* any student code runs, enters the isolation the request
names (confine.py: on the namespace path it goes on as PID 1 of new namespaces, in a root of its
own), then runs every check in a child of its own (processes.py) and forwards, per check, the
child's frame (wire.py) on its stdout.
"""

import importlib
import importlib.util
import json
import os
import sys

import numpy as np
import numpy.random  # noqa: F401  numpy 2 loads it on first use: ~10 ms in every forked check otherwise

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "_refmlp_sandbox"


def load_package():
    """This folder as the package PACKAGE: its modules import one another relatively."""
    spec = importlib.util.spec_from_file_location(
        PACKAGE, os.path.join(HERE, "__init__.py"), submodule_search_locations=[HERE])
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return package


load_package()
confine = importlib.import_module(PACKAGE + ".confine")
processes = importlib.import_module(PACKAGE + ".processes")
wire = importlib.import_module(PACKAGE + ".wire")
sources = importlib.import_module(PACKAGE + ".files")

_dumps = json.dumps  # taken before any student code runs (see wire.py)


def main(argv):
    request_dir = argv[1]
    with open(os.path.join(request_dir, "request.json")) as fh:
        request = json.load(fh)
    with np.load(os.path.join(request_dir, "inputs.npz"), allow_pickle=False) as data:
        inputs = {k: data[k] for k in data.files}
    root = request["submission_dir"]
    files, budget = {}, request["source_cap"]
    for rel in request["files"]:  # chosen by the judge (runner.submission_files): .py files only
        try:  # a file changed into a link or grown since the judge's walk is left out
            files[rel] = sources.read_regular(os.path.join(root, rel), budget)
        except sources.Refused:
            continue
        budget -= len(files[rel])
    mode = request.get("isolation", "none")
    if mode == "namespaces":  # returns in the new namespaces, as their PID 1
        root = os.path.join(request_dir, "root")
        os.mkdir(root)
        confine.enter_namespaces(root, request["scratch_root"], request.get("adapter"))
    elif mode == "fallback" and os.geteuid() == 0 and confine.uid_switch_blocker() is None:
        for folder in (request_dir, request["scratch_root"]):  # NOBODY passes, cannot list
            os.chmod(folder, 0o711)
    if mode != "none":
        confine.prepare(request.get("adapter"))
    request["worker_pid"] = os.getpid()
    processes.prctl(processes.PR_SET_CHILD_SUBREAPER, 1)
    stdout = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    processes.run_checks(request, files, inputs,
                         lambda header, blob: wire.write_frame(stdout, _dumps(header).encode(), blob),
                         parallel=request.get("parallel", 2))


if __name__ == "__main__":
    main(sys.argv)
