"""softphone-cli: the headless client over the same user-agent facade as the GUI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from softphone import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="softphone-cli",
        description="Headless SIP softphone: reads commands on standard input, reports events on standard output.",
    )
    parser.add_argument("--version", action="version", version=f"softphone-cli {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    print("softphone-cli: no user agent yet; see --help", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
