"""Entry point for `bin/ops` (and the Pipfile script `pipenv run ops`)."""

import sys

from ops.cli import main

sys.exit(main())
