"""Static checks of the rule files: every rule has its own benchmark and log pattern.

The report's cost table names the rule behind each benchmark file by matching the rules'
``benchmark:`` patterns, so two rules sharing one would be counted as one.
"""

import re
from collections import Counter

from conftest import REPO

RULE = re.compile(r"^(?:rule (\w+)|use rule \w+ as (\w+) with):$", re.M)
DIRECTIVE = {
    name: re.compile(rf"^    {name}:\n\s+\"([^\"]+)\"", re.M) for name in ("benchmark", "log")
}


def _rules() -> dict[str, str]:
    """Each rule's text, from every rules/*.smk (a `use rule ... as <name> with:` too)."""
    rules = {}
    for path in sorted((REPO / "rules").glob("*.smk")):
        text = path.read_text()
        starts = [(m.group(1) or m.group(2), m.start()) for m in RULE.finditer(text)]
        for (name, start), (_, end) in zip(starts, [*starts[1:], ("", len(text))]):
            rules[name] = text[start:end]
    return rules


def test_every_rule_has_a_benchmark_and_a_log_of_its_own():
    rules = _rules()
    assert len(rules) > 20
    for name, pattern in DIRECTIVE.items():
        paths = {rule: pattern.search(text) for rule, text in rules.items()}
        assert not [r for r, m in paths.items() if m is None], f"rules without {name}"
        counts = Counter(m.group(1) for m in paths.values())
        shared = {
            p: [r for r, m in paths.items() if m.group(1) == p] for p, n in counts.items() if n > 1
        }
        assert not shared, f"{name} patterns shared by several rules: {shared}"


def test_no_rule_takes_an_execution_setting_as_a_param():
    """Execution settings (fmeval.canon.EXECUTION_SETTINGS) are read by the jobs from the
    config, never handed over as params: a param change reruns the job (issue 22)."""
    from fmeval.canon import EXECUTION_SETTINGS

    params = re.compile(r"^    params:\n((?:        .*\n|\s*\n)+)", re.M)
    found = {}
    for rule, text in _rules().items():
        block = params.search(text)
        for path in EXECUTION_SETTINGS:
            access = "".join(rf"\[\"{key}\"\]" for key in path.split("."))
            if block and re.search(rf"config{access}", block.group(1)):
                found.setdefault(rule, []).append(path)
    assert not found, f"params read execution settings: {found}"
