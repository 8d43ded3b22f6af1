"""`python -m ddns_edge`: the same as the `ddns-edge` command."""

import sys

from ddns_edge.cli import main

sys.exit(main())
