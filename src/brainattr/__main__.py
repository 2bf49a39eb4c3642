"""``python -m brainattr check-dataset PATH``: see :mod:`brainattr.validate`."""

import sys

from brainattr.validate import main

sys.exit(main())
