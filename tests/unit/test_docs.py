"""The documentation's conventions (tests/docs_examples.py); the examples themselves run in
tests/workflow/test_docs.py. Also: config/README.md equals the schema, LICENSE and
CITATION.cff, and the README sections that error messages point at exist."""

import re
import subprocess
import sys

import yaml
from docs_examples import (
    LANGUAGES,
    REPO,
    TAGS,
    all_examples,
    inline_commands,
    markdown_examples,
    runnable,
)

README = REPO / "README.md"


def test_every_readme_fence_has_a_known_language_and_known_tags():
    for example in markdown_examples(README):
        assert example.lang in LANGUAGES, f"{example.where}: fence language {example.lang!r}"
        assert set(example.tags) <= TAGS, f"{example.where}: unknown tag in {example.tags}"
        if "jobs" in example.tags:
            assert example.tags["jobs"].isdigit(), f"{example.where}: jobs tag needs a number"


def test_untested_examples_say_why_and_are_few():
    untested = [e for e in all_examples() if "not-tested" in e.tags]
    for example in untested:
        assert len(example.tags["not-tested"].split()) >= 3, f"{example.where}: give a reason"
        assert example.lang == "bash", f"{example.where}: only commands may go untested"
    assert len(untested) <= 4, [e.where for e in untested]


def test_examples_are_found_in_the_readme_and_the_config_headers():
    found = {e.where.split(":")[0] for e in all_examples() if e.lang in ("bash", "yaml")}
    assert {"README.md", "config.yaml", "config/test.yaml", "config/test-classify.yaml"} <= found
    assert len(runnable("python")) >= 3  # the outputs' loading snippets
    assert len(runnable("yaml")) >= 4  # the recipes


def test_job_counts_in_the_prose_are_the_tested_ones():
    """A job count the README states is one a `jobs` tag has a dry run check."""
    tagged = {e.tags["jobs"] for e in markdown_examples(README) if "jobs" in e.tags}
    stated = set(re.findall(r"(\d+) jobs\b", README.read_text()))
    assert stated and stated <= tagged, (stated, tagged)


def test_inline_commands_repeat_a_fenced_command():
    """A command quoted in prose is one a block runs (or tags), so it is tested too."""
    blocks = " ".join(
        " ".join(e.code.replace("\\\n", " ").split())
        for e in markdown_examples(README)
        if e.lang == "bash"
    )
    for command in inline_commands(README):
        assert " ".join(command.split()) in blocks, f"README quotes `{command}` outside a block"


def test_targets_come_before_configfile_in_every_command():
    """Every word after --configfile is read as a config file: a target there is a mistake."""
    for example in all_examples():
        if example.lang != "bash":
            continue
        for command in example.code.replace("\\\n", " ").splitlines():
            words = command.split("#", 1)[0].split()
            if "--configfile" not in words:
                continue
            after = words[words.index("--configfile") + 1 :]
            for word in after:
                if word.startswith("-"):
                    break
                where = example.where
                assert word.endswith((".yaml", ".yml")), f"{where}: {word} after --configfile"


def test_the_two_setup_commands_open_the_readme():
    first = markdown_examples(README)[0]
    assert first.lang == "bash"
    assert [line.split("#")[0].strip() for line in first.code.splitlines()] == [
        "make run",
        "make test",
    ]
    assert README.read_text().index("```bash") < 600


def test_readme_sections_that_messages_point_at_exist():
    headings = re.findall(r"^#+ (.+)$", README.read_text(), flags=re.M)
    sources = "\n".join(p.read_text() for p in (REPO / "scripts" / "fmeval").rglob("*.py"))
    named = set(re.findall(r"README, \*([^*]+)\*", sources))
    assert named, "no README references found"
    for name in named:
        assert any(name in h for h in headings), f"README has no section *{name}*"


def test_config_readme_is_generated_from_the_schema():
    proc = subprocess.run(
        [sys.executable, "-m", "fmeval.configdoc", "--check"],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "scripts")},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    page = (REPO / "config" / "README.md").read_text()
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    for key in schema["properties"]:
        assert f"## `{key}`" in page


def test_config_readme_check_fails_when_stale(tmp_path, monkeypatch):
    import fmeval.configdoc as configdoc

    page = tmp_path / "README.md"
    page.write_text((REPO / "config" / "README.md").read_text() + "\nedited by hand\n")
    monkeypatch.setattr(configdoc, "PAGE", page)
    monkeypatch.setattr(configdoc, "REPO", tmp_path)
    assert configdoc.main(["--check"]) == 1
    assert configdoc.main([]) == 0 and configdoc.main(["--check"]) == 0


def test_licence_and_citation():
    licence = (REPO / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "the fmeval authors" in licence
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'license = { text = "MIT" }' in pyproject
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    assert citation["title"] and citation["authors"]
    version = re.search(r'^version = "(.+)"', pyproject, flags=re.M).group(1)
    assert citation["version"] == version
    readme = README.read_text()
    for licence_name in ("CC BY-NC 4.0", "Apache-2.0", "DINOv3 License", "BSD-3-Clause"):
        assert licence_name in readme


def test_perf_figures_have_their_own_page():
    perf = (REPO / "perf" / "README.md").read_text()
    assert "perf/ct.py" in perf and "perf/extract_features.py" in perf
    readme = README.read_text()
    assert "load average" not in readme and "AMD EPYC" not in readme
