"""``python -m coded.scheduler.cli``: the ``coded`` command without installing the package
(e.g. a ``ray job submit --working-dir .`` job on nodes that lack coded)."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
