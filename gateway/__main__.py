"""`python -m gateway` is the `coldchain` command."""

import sys

from gateway.entry import main

sys.exit(main())
