"""The examples of the documentation, found automatically so that every new one is tested.

The convention (README, *Documentation examples are tests*):

- In README.md, a fenced block is an example by its language: ```` ```bash ```` blocks are
  run (every ``snakemake`` in them as a dry run, ``-n``, in a fresh working folder beside
  ``../shared``), ```` ```yaml ```` blocks are config snippets (merged into
  ``config/test.yaml`` and dry-run), ```` ```python ```` blocks are run in the working folder
  of a full run of the test config. ```` ```text ```` blocks are program output and not run.
  A fence without a language is an error.
- HTML comments on the lines right above a fence tag it:
  ``<!-- not-tested: <reason> -->`` (never run; the reason is required),
  ``<!-- jobs: <n> -->`` (its one snakemake command plans exactly n jobs),
  ``<!-- files: <path> ... -->`` (placeholder checkpoints the test writes first, for snippets
  that name weights a user copies in).
- In config files (``config.yaml``, ``config/*.yaml``), a comment line that is a
  ``snakemake`` command is a bash example, and a commented-out block that starts with a
  top-level config key is a yaml example.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
LANGUAGES = {"bash", "yaml", "python", "text"}
FENCE = re.compile(r"^```(\S*)\s*$")
TAG = re.compile(r"^<!--\s*([a-z-]+):\s*(.*?)\s*-->\s*$")
TAGS = {"not-tested", "jobs", "files"}
COMMAND = re.compile(r"^(\.venv/bin/)?snakemake\s")


@dataclass
class Example:
    where: str  # file:line
    lang: str
    code: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.where


def markdown_examples(path: Path) -> list[Example]:
    """Every fenced block of a Markdown file, with the tags above it."""
    lines = path.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        tags, j = {}, i - 1
        while j >= 0 and (tag := TAG.match(lines[j].strip())):
            tags[tag.group(1)] = tag.group(2)
            j -= 1
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        where = f"{path.relative_to(REPO)}:{i + 1}"
        found.append(Example(where, fence.group(1), "\n".join(lines[i + 1 : end]) + "\n", tags))
        i = end + 1
    return found


def config_examples(path: Path, top_keys: set[str]) -> list[Example]:
    """The commands and commented-out config snippets in a config file's comments."""
    found = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        text = line[1:].strip() if line.startswith("#") else None
        where = f"{path.relative_to(REPO)}:{i + 1}"
        if text is not None and COMMAND.match(text):
            found.append(Example(where, "bash", text + "\n"))
        elif text is not None and re.match(r"^\w+:\s*$", line[1:].removeprefix(" ")):
            key = line[1:].strip().rstrip(":")
            if key in top_keys:
                block = [line[1:].removeprefix(" ")]
                while i + 1 < len(lines) and re.match(r"^#\s{2,}\S", lines[i + 1]):
                    i += 1
                    block.append(lines[i][1:].removeprefix(" "))
                found.append(Example(where, "yaml", "\n".join(block) + "\n"))
        i += 1
    return found


def all_examples() -> list[Example]:
    """README.md's fenced blocks and the config files' commented examples, in file order."""
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    top_keys = set(schema["properties"])
    examples = markdown_examples(REPO / "README.md")
    for path in [REPO / "config.yaml", *sorted((REPO / "config").glob("*.yaml"))]:
        examples += config_examples(path, top_keys)
    return examples


def runnable(lang: str) -> list[Example]:
    """The examples of one language to run, each distinct code once (the first place)."""
    seen: dict[str, Example] = {}
    lines: set[str] = set()  # every command already run, so a config header's repeat is not
    for example in all_examples():
        if example.lang != lang or "not-tested" in example.tags:
            continue
        key = _normal(example.code)
        if key in lines:
            continue
        seen.setdefault(key, example)
        lines.update(_normal(line) for line in example.code.replace("\\\n", " ").splitlines())
    return list(seen.values())


def _normal(code: str) -> str:
    return " ".join(code.replace(".venv/bin/snakemake", "snakemake").split())


def inline_commands(path: Path) -> list[str]:
    """Inline code spans of a Markdown file that are commands (snakemake, make, .venv/bin)."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    spans = re.findall(r"`([^`\n]+)`", text)
    return [s for s in spans if re.match(r"^(\.venv/bin/\S+|snakemake|make|python -m)(\s|$)", s)]
