"""`python -m bench.child module:function [args…]`: one benchmark step in a fresh interpreter.

A benchmark times a child process (its wall time and its own peak RSS, bench.common.run_child); the code the
child runs is an ordinary function of a bench module, named by `bench.common.child(function, *args)`, which
receives the arguments as strings. Heavy imports stay inside those functions, so a cold figure includes them.
"""

from __future__ import annotations

import importlib
import sys


def main(argv: list[str]) -> None:
    if not argv or ":" not in argv[0]:
        raise SystemExit("usage: python -m bench.child module:function [args…]")
    module, _, name = argv[0].partition(":")
    function = importlib.import_module(module)
    for part in name.split("."):
        function = getattr(function, part)
    function(*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
