"""A stand-in for `terraform fmt -check` where no terraform binary is installed.

    python fmt_check.py FILE_OR_DIR [...]

scripts/check-static.sh runs `terraform fmt -check -recursive` when terraform is on PATH and this
otherwise. It checks the layout rules of `terraform fmt` that decide almost every diff it would
make: two-space indentation by nesting depth, no tabs, no trailing whitespace, no carriage
returns, one final newline, single spaces around `=` outside alignment, and the alignment of `=`
within a run of consecutive one-line arguments of the same block. It does not rewrite expressions
(the spacing inside them, interpolation-only strings, heredoc indentation): only terraform does.
Exit status 1 when any file breaks a rule.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ATTRIBUTE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_-]*|\"[^\"]*\"|\([^)]*\))(\s*)=(?![=>])(\s*)(.*)$")


def code_of(line: str) -> str:
    """The line without string contents and comments, so that brackets can be counted."""
    out, i, in_string = [], 0, False
    while i < len(line):
        c = line[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
            out.append("_" if c != '"' else c)
        elif c == '"':
            in_string = True
            out.append(c)
        elif c == "#" or line.startswith("//", i):
            break
        else:
            out.append(c)
        i += 1
    return "".join(out)


def check_text(name: str, text: str) -> list[str]:
    problems = []
    if "\r" in text:
        problems.append(f"{name}: carriage return")
    if text and not text.endswith("\n") or text.endswith("\n\n"):
        problems.append(f"{name}: must end with exactly one newline")
    depth = 0
    group: list[tuple[int, int, int]] = []  # (line number, key end column, '=' column)

    def close_group() -> None:
        if group:
            want = max(key_end for _, key_end, _ in group) + 1
            for number, _, eq in group:
                if eq != want:
                    problems.append(f"{name}:{number}: '=' at column {eq + 1}, aligned runs put it at {want + 1}")
        group.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        if "\t" in line:
            problems.append(f"{name}:{number}: tab")
        if line != line.rstrip():
            problems.append(f"{name}:{number}: trailing whitespace")
        stripped = line.strip()
        code = code_of(line)
        opens = sum(code.count(c) for c in "{[(")
        closes = sum(code.count(c) for c in "}])")
        net = opens - closes
        starts_closed = re.match(r"^\s*[}\])]", code) is not None
        if stripped:
            # terraform fmt indents by lines, not brackets: a line that opens more than it closes
            # indents what follows by one level, however many brackets it opens.
            expected = 2 * max(depth - (1 if starts_closed else 0), 0)
            actual = len(line) - len(line.lstrip(" "))
            if actual != expected and not stripped.startswith(("?", ":")):
                problems.append(f"{name}:{number}: indented {actual}, expected {expected}")
        m = ATTRIBUTE.match(line)
        if m and net == 0:
            key_end = len(m.group(1)) + len(m.group(2))
            eq = key_end + len(m.group(3))
            if m.group(5) and m.group(4) != " ":
                problems.append(f"{name}:{number}: one space after '='")
            group.append((number, key_end, eq))
        else:
            # A blank line, a comment, a block, or an argument spanning lines ends an aligned run;
            # the last keeps a single space before its '='.
            close_group()
            if m and m.group(3) != " ":
                problems.append(f"{name}:{number}: one space before '=' of an argument spanning lines")
        depth += (net > 0) - (net < 0)
    close_group()
    if depth != 0:
        problems.append(f"{name}: unbalanced brackets")
    return problems


def main() -> int:
    files: list[Path] = []
    for arg in sys.argv[1:]:
        p = Path(arg)
        files += sorted(q for q in p.rglob("*") if q.suffix in (".tf", ".tfvars")) if p.is_dir() else [p]
    problems = []
    for path in files:
        problems += check_text(str(path), path.read_text(encoding="utf-8"))
    for p in problems:
        print(f"     - {p}")
    print(f"     fmt rules checked on {len(files)} files: {len(problems)} problems")
    return 1 if problems or not files else 0


if __name__ == "__main__":
    sys.exit(main())
