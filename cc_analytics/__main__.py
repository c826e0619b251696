import sys

from cc_analytics.cli import main

sys.exit(main())
