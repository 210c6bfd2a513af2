import sys

from replications.parallelism_tradeoff.depth_search import main

sys.exit(main("replications.parallelism_tradeoff"))
