#!/usr/bin/env python3
"""Checks that engine/src's folders depend only on the folders below them.

  scripts/check-engine-layers.py [ENGINE_SRC]

The folders, lowest first (engine/CMakeLists.txt says what each holds):
base, storage, load, state, objects, query, then the files at the top of
engine/src, which are the Engine itself. A file may include its own
folder's headers and those of any folder below; an include upwards is an
error, so the include graph has no cycle between folders. Public headers
(gridtree/...) are not folders of engine/src and may be included anywhere.
"""
import pathlib
import re
import sys

LAYERS = ["base", "storage", "load", "state", "objects", "query", "(top)"]


def layer_of(rel: pathlib.PurePath) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else "(top)"


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent / "engine" / "src")
    errors = []
    files = sorted(p for p in root.rglob("*") if p.suffix in (".cpp", ".h"))
    for path in files:
        rel = path.relative_to(root)
        here = layer_of(rel)
        if here not in LAYERS:
            errors.append(f"{rel}: folder {here!r} is not one of {', '.join(LAYERS[:-1])}")
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m or m.group(1).startswith("gridtree/"):
                continue
            target = pathlib.PurePath(m.group(1))
            if not (root / target).exists():
                errors.append(f"{rel}:{number}: includes {target}, which is not a path under engine/src")
                continue
            there = layer_of(target)
            if LAYERS.index(there) > LAYERS.index(here):
                errors.append(f"{rel}:{number}: {here} includes {target} from {there}, a folder above it")
    for e in errors:
        print(e)
    print(f"{len(files)} files, {len(errors)} error(s)", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
