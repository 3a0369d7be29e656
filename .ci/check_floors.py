"""Fail unless each dependency of backprop and its [test] extra is installed at its declared floor.

.ci/run runs this in the environment it builds from .ci/floors.txt, so that the suite run there
tests the floors pyproject.toml declares: a floor changed in one file and not the other shows
here. A package named in several extras must have the same floor in each.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import requires, version

LINT_ONLY = {"ruff"}
REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9_.-]+)\s*>=\s*(?P<floor>[0-9][0-9.]*)"
    r'\s*(?:;\s*extra\s*==\s*"(?P<extra>[\w-]+)")?$'
)


def release(text: str) -> tuple[int, ...]:
    """'1.6' and '1.6.0' alike: the version's numbers without trailing zeros."""
    numbers = [int(part) for part in text.split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def declared_floors() -> tuple[dict[str, set[str]], set[str]]:
    """Every package's declared floors, and the packages the base and [test] extra need."""
    floors: dict[str, set[str]] = {}
    tested: set[str] = set()
    for line in requires("backprop") or []:
        match = REQUIREMENT.match(line.strip())
        if match is None:
            raise SystemExit(f"check_floors: not a 'name>=version' requirement: {line!r}")
        name = match["name"].lower().replace("_", "-")
        floors.setdefault(name, set()).add(match["floor"])
        if match["extra"] in (None, "test") and name not in LINT_ONLY:
            tested.add(name)
    return floors, tested


def main() -> int:
    floors, tested = declared_floors()
    problems = []
    for name in sorted(tested):
        declared = sorted(floors[name])
        installed = version(name)
        if len({release(floor) for floor in declared}) > 1:
            problems.append(f"{name}: different floors in different extras: {declared}")
        elif release(installed) != release(declared[0]):
            problems.append(f"{name}: declared >={declared[0]}, installed {installed}")
        else:
            print(f"{name} {installed}")
    for problem in problems:
        print(f"check_floors: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
