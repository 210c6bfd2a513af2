import sys

from common.cli import main

sys.exit(main("replications.rnns_not_transformers"))
