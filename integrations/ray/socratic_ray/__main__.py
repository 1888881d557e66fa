"""``python -m socratic_ray KIND ...``: the Ray job's entrypoint (see ``driver.main``)."""

import sys

from .driver import main

sys.exit(main())
