"""What every benchmark's command line does at its end: one JSON line with `--bench` (the house
convention), else a form for people; a `QDError` becomes `error: ...` on stderr and exit status 1."""
from __future__ import annotations

import json
import sys
from typing import Callable

from qd.errors import QDError


def print_result(compute: Callable[[], dict], bench: bool, show: Callable[[dict], str] | None = None) -> int:
    """Run `compute()`; print its result as one JSON line (`bench`) or `show(result)` (default:
    indented JSON); returns the exit status."""
    try:
        result = compute()
    except QDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result) if bench else (show or (lambda r: json.dumps(r, indent=1)))(result))
    return 0
