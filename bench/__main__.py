"""python3 -m bench: run the vkernel benchmarks (see bench/runner.py)."""
import sys

from bench.runner import main

sys.exit(main())
