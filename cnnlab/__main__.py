"""`python -m cnnlab` (and `torchrun -m cnnlab`) runs the command-line interface; `main` is also the `cnnlab`
console script. It imports the CLI (and with it torch, a second or more) inside `main`, so that Ctrl-C while the
imports run is one line and exit status 130, as it is once the command runs. `--version` and the commands that need
no torch (`cnnlab map`) are answered without importing it."""

import sys

from . import version_line
from .errors import STARTUP_INTERRUPTED


def main() -> int:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        print(version_line())
        return 0
    try:
        from .cli_core import TORCH_FREE, main_torch_free

        if argv and argv[0] in TORCH_FREE:
            run = main_torch_free
        else:
            from .cli import main as run
    except KeyboardInterrupt:
        print(f"cnnlab: {STARTUP_INTERRUPTED}", file=sys.stderr)
        return 130
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
