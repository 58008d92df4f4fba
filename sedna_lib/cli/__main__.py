"""``python -m sedna_lib.cli``: the ``sedna-lib`` command."""

import sys

from . import main

sys.exit(main())
