"""python3 -m vkernel: the vkernel command."""
import sys

from vkernel.cli import main

sys.exit(main())
