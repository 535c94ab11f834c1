"""`python -m gateway` is the `coldchain` command."""

import sys

from gateway.cli import main

sys.exit(main())
