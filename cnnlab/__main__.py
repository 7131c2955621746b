"""`python -m cnnlab` (and `torchrun -m cnnlab`) runs the command-line interface."""

import sys

from .cli import main

sys.exit(main())
