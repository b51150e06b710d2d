#!/usr/bin/env python3
"""Lists functions longer than a limit in C++ sources (a whole function,
lambdas inside it included), and fails when there is one.

  scripts/check-function-length.py [--limit 150] DIR...

It reads the code as clang-format leaves it: comments, string literals and
preprocessor lines are blanked first, then a brace block whose head has a
parameter list and which is not inside another function is a function.
"""
import argparse
import pathlib
import re
import sys


def blank_comments_and_strings(src: str) -> str:
    """The source with comments and literals replaced by spaces (newlines kept)."""
    out, i, n = [], 0, len(src)
    while i < n:
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i) + 2
        elif (m := re.match(r'R"([^(]*)\(', src[i:i + 20])):
            end = ")" + m.group(1) + '"'
            j = src.find(end, i) + len(end)
        elif src[i] == '"' or (src[i] == "'" and not (i > 0 and src[i - 1].isalnum())):  # not 1'000
            j = i + 1
            while j < n and src[j] != src[i]:
                j += 2 if src[j] == "\\" else 1
            j += 1
        else:
            out.append(src[i])
            i += 1
            continue
        out.append(re.sub(r"[^\n]", " ", src[i:j]))
        i = j
    return re.sub(r"^\s*#.*$", "", "".join(out), flags=re.M)


def long_functions(path: pathlib.Path, limit: int):
    s = blank_comments_and_strings(path.read_text())
    stack, head_start = [], 0
    for i, c in enumerate(s):
        if c == "{":
            head = s[head_start:i]
            if any(kind == "function" for kind, _, _ in stack):
                kind = "block"
            elif re.search(r"\b(namespace|struct|class|enum|union)\b[^()]*$", head) or re.search(r"extern\s*$", head):
                kind = "scope"
            else:
                kind = "function" if ")" in head else "block"
            start = head_start + len(head) - len(head.lstrip())
            stack.append((kind, start, " ".join(head.split())))
            head_start = i + 1
        elif c == "}":
            if stack:
                kind, start, head = stack.pop()
                lines = s.count("\n", start, i) + 1
                if kind == "function" and lines > limit:
                    yield lines, s.count("\n", 0, start) + 1, head[:100]
            head_start = i + 1
        elif c == ";":
            head_start = i + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("dirs", nargs="+")
    args = parser.parse_args()
    found = []
    for d in args.dirs:
        for path in sorted(pathlib.Path(d).rglob("*")):
            if path.suffix in (".cpp", ".h"):
                found += [(n, f"{path}:{line}", head) for n, line, head in long_functions(path, args.limit)]
    for n, where, head in sorted(found, reverse=True):
        print(f"{where}: {n} lines: {head}")
    if found:
        print(f"{len(found)} function(s) over {args.limit} lines", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
