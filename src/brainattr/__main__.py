"""``python -m brainattr``: see :mod:`brainattr.cli`."""

import sys

from brainattr.cli import main

sys.exit(main())
