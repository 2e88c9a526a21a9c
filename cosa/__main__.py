import sys

from cosa.cli import main

sys.exit(main())
