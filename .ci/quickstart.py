"""Print the README's two Quick start commands, one per line, exactly as written.

.ci/run runs them in a new virtual environment. The block is the first ```bash block
after the line ``<!-- quick-start -->``; it must hold exactly two commands (lines that
are not comments), the matrix command first. Anything else exits 1 with one line, so a
README that lost or reshaped its Quick start fails CI instead of testing nothing.
Standard library only: it runs before anything is installed.
"""
import sys

MARK = "<!-- quick-start -->"


def commands(text: str) -> list[str]:
    if MARK not in text:
        raise ValueError(f"no {MARK} line")
    after = text.split(MARK, 1)[1]
    if "```bash\n" not in after:
        raise ValueError(f"no ```bash block after {MARK}")
    block = after.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.strip() for line in block.splitlines()]
    found = [line for line in lines if line and not line.startswith("#")]
    if len(found) != 2:
        raise ValueError(f"the Quick start block holds {len(found)} commands, expected 2")
    if not found[0].endswith("nox -s matrix") or not found[1].endswith("nox -s tests"):
        raise ValueError("the Quick start commands must end in `nox -s matrix` and `nox -s tests`")
    return found


def main(path: str) -> int:
    try:
        print("\n".join(commands(open(path, encoding="utf-8").read())))
    except (OSError, ValueError) as exc:
        print(f"quickstart: {path}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2] or ["README.md"]))
