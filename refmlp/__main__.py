"""``python -m refmlp``: the same as the ``refmlp`` command."""

import sys

from .cli import main

sys.exit(main())
