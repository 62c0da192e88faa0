"""The sandbox: the code that runs next to a submission's, in the worker process (numpy only).

refmlp.check.runner starts ``python -I worker.py REQUEST_DIR``; the worker loads this folder as a
package of its own (never refmlp, never torch) and runs each check in a forked child. By job:

- worker.py: the entry point (reads the request, hands the frames to the judge);
- processes.py: forking the checks' children, their limits, the processes they leave behind;
- ops.py: the submission's network and the operations a check runs on it;
- discovery.py: finding the network's W_k and b_k without knowing their names;
- recorders.py: the course's f, f' and loss derivatives, recording their arguments;
- tracebacks.py: tracebacks in the student's own terms;
- wire.py: the frame format, shared with the judge;
- confine.py: the OS isolation on Linux (namespaces and a root of its own, then per check
  capabilities, no_new_privs, landlock.py and seccomp.py);
- course/: the course's helper modules, layers.py and losses.py.
"""
