import sys

from replications.limits_dl.llm.run import main

sys.exit(main())
