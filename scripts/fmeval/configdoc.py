"""``config/README.md`` (the Snakemake workflow catalog's config page), made from the schema.

Every key of ``schemas/config.schema.yaml`` becomes one row: its path (``<name>`` for a
key you choose, ``[]`` for a list's items), type, default and description. The page is
generated, never edited: ``python -m fmeval.configdoc`` (``make docs``) rewrites it, and
``--check`` (a test) fails when it differs from the schema.
"""

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
PAGE = REPO / "config" / "README.md"

HEADER = """\
<!-- Generated from schemas/config.schema.yaml by `make docs` (python -m fmeval.configdoc);
     do not edit: a test fails when this page and the schema differ. -->
# Configuration

fmeval reads one config file (`config.yaml` by default; `--configfile my.yaml` replaces it).
Several files after `--configfile` are merged, later ones key by key into earlier ones (a list
in a later file replaces the earlier list). Every key below has a default: leave out what you
do not change. The config is checked before any job runs (a dry run, `snakemake -n`,
included): an unknown key or a bad value stops the run with one line naming the key, the
problem and the fix.

The test configs in this folder run offline with `../shared` beside the checkout:
`test.yaml` (segmentation and CT), and `test-dinov3.yaml`, `test-video.yaml`,
`test-classify.yaml` (see each file's header and the README's *Quick start*).

In the key paths, `<name>` is a name you choose (a dataset, a model, a noise level) and `[]`
the items of a list.
"""


def _resolve(node: dict, defs: dict) -> dict:
    """``node`` with its ``$ref`` and ``allOf`` references merged in (its own keys win)."""
    merged: dict = {}
    refs = ([{"$ref": node["$ref"]}] if "$ref" in node else []) + node.get("allOf", [])
    for ref in refs:
        target = ref
        if "$ref" in ref:
            target = defs[ref["$ref"].rsplit("/", 1)[-1]]
        target = _resolve(target, defs)
        for key, value in target.items():
            if key == "properties":
                merged.setdefault("properties", {}).update(value)
            else:
                merged[key] = value
    for key, value in node.items():
        if key == "properties":
            merged.setdefault("properties", {}).update(value)
        elif key not in ("$ref", "allOf"):
            merged[key] = value
    return merged


def _type(node: dict) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    if "oneOf" in node and not kind:
        kinds = ["object"]
    shown = []
    for k in kinds:
        if k == "array" and isinstance(node.get("items"), dict):
            item = node["items"].get("type")
            shown.append(f"list of {item}" if isinstance(item, str) else "list")
        elif k:
            shown.append(k)
    return " or ".join(shown)


def _default(node: dict) -> str:
    if "default" not in node:
        return ""
    value = node["default"]
    if isinstance(value, dict) and node.get("properties"):
        return "see below"
    return f"`{json.dumps(value)}`"


def _text(node: dict) -> str:
    return " ".join(str(node.get("description", "")).split()).replace("|", "\\|")


def rows(node: dict, path: str, defs: dict) -> Iterator[tuple[str, dict]]:
    """Every key below ``node`` as (path, resolved schema), depth first, in schema order."""
    node = _resolve(node, defs)
    for name, child in node.get("properties", {}).items():
        child = _resolve(child, defs)
        child_path = f"{path}.{name}" if path else name
        yield child_path, child
        yield from rows(child, child_path, defs)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        child = _resolve(extra, defs)
        yield from rows(child, f"{path}.<name>", defs)
    items = node.get("items")
    if isinstance(items, dict) and _resolve(items, defs).get("properties"):
        yield from rows(items, f"{path}[]", defs)


def render(schema: dict) -> str:
    """The whole page: the header, then one section per top-level key."""
    defs = schema.get("$defs", {})
    parts = [HEADER]
    for name, node in schema["properties"].items():
        node = _resolve(node, defs)
        parts.append(f"## `{name}`\n\n{_text(node)}\n")
        default = node.get("default")
        if isinstance(default, dict) and default and not node.get("properties"):
            shown = yaml.safe_dump({name: default}, sort_keys=False).strip()
            parts.append(f"Type: {_type(node)}. Default:\n\n```yaml\n{shown}\n```\n")
        else:
            parts.append(f"Type: {_type(node)}. Default: {_default(node) or 'none'}.\n")
        below = list(rows(node, name, defs))
        if below:
            table = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
            table += [
                f"| `{path}` | {_type(child)} | {_default(child)} | {_text(child)} |"
                for path, child in below
            ]
            parts.append("\n".join(table) + "\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmeval.configdoc", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the page is stale")
    args = parser.parse_args(argv)
    page = render(yaml.safe_load(SCHEMA.read_text()))
    if args.check:
        if not PAGE.is_file() or PAGE.read_text() != page:
            print(f"{PAGE.relative_to(REPO)} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
