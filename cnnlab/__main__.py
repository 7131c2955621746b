"""`python -m cnnlab` (and `torchrun -m cnnlab`) runs the command-line interface; `main` is also the `cnnlab`
console script. It imports the CLI (and with it torch, a second or more) inside `main`, so that Ctrl-C while the
imports run is one line and exit status 130, as it is once the command runs."""

import sys

from . import version_line
from .errors import STARTUP_INTERRUPTED


def main() -> int:
    if sys.argv[1:] == ["--version"]:  # answered without importing torch, which takes seconds
        print(version_line())
        return 0
    try:
        from .cli import main as run_cli
    except KeyboardInterrupt:
        print(f"cnnlab: {STARTUP_INTERRUPTED}", file=sys.stderr)
        return 130
    return run_cli()


if __name__ == "__main__":
    sys.exit(main())
