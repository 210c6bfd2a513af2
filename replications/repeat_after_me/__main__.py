import sys

from common.cli import main

sys.exit(main("replications.repeat_after_me"))
