"""The `evalkit` command of the Python package: the same command line as
the `evalkit` binary (the same Rust code, in the extension module)."""

import signal
import sys

from . import _evalkit


def main() -> None:
    """Runs ``evalkit`` with this process's arguments and exits with its
    status."""
    # Ctrl-C stops the command as it stops the binary (Python's handler
    # would only set a flag the Rust code never reads).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_evalkit.main(["evalkit", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
