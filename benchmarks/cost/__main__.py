import sys

from benchmarks.cost.cli import main

sys.exit(main(sys.argv[1:]))
