"""The one rule entry (fmeval.entry): arguments bound by name from a job, converted by the
function's annotations; a rule and a function that do not fit are one clear error."""

import dataclasses
import logging
from types import SimpleNamespace

import pytest
from snakemake.iocontainers import InputFiles, Log, OutputFiles, Params, Wildcards

from fmeval import entry
from fmeval.entry import ENTRIES, EntryError, bind, check_rule, settings


@dataclasses.dataclass(frozen=True)
class Level:
    name: str
    gain: float


def toy(
    *,
    sinograms: str,
    ram: str | None,
    images: list[str],
    views: int,
    noise: Level,
    seed: int,
    device: str,
    deadline_s: float = 60.0,
    tuned: str | None = None,
    out: str,
) -> dict:
    return dict(locals())


def job(
    *,
    input=None,
    output=None,
    params=None,
    wildcards=None,
    config=None,
    rule="toy",
    log=("logs/toy.log",),
):
    return SimpleNamespace(
        rule=rule,
        input=InputFiles(fromdict=input or {}),
        output=OutputFiles(fromdict=output or {}),
        params=Params(fromdict=params or {}),
        wildcards=Wildcards(fromdict=wildcards or {}),
        config=config if config is not None else {"device": "cpu", "downloads": {}},
        threads=2,
        log=Log(list(log)),
    )


TOY_JOB = dict(
    input={"sinograms": "s.npy", "ram": [], "images": ["a.npy", "b.npy"]},
    output={"out": "o.json"},
    params={"noise": {"name": "low", "gain": 0.5}, "seed": 3},
    wildcards={"views": "8"},
    config={"device": "cuda", "batch_size": 4, "downloads": {"deadline_s": 5.0}},
)


def test_arguments_are_bound_by_name_and_converted_by_annotation():
    kwargs = bind("toy", toy, job(**TOY_JOB))
    assert kwargs["sinograms"] == "s.npy" and kwargs["out"] == "o.json"
    assert kwargs["views"] == 8  # a wildcard's text as the int the function takes
    assert kwargs["noise"] == Level("low", 0.5)  # a dataclass from the param's mapping
    assert kwargs["images"] == ["a.npy", "b.npy"] and type(kwargs["images"]) is list
    assert kwargs["seed"] == 3
    # execution settings come from the config: device by name, downloads by their keys
    assert kwargs["device"] == "cuda" and kwargs["deadline_s"] == 5.0
    assert "batch_size" not in kwargs  # toy does not take it


def test_an_empty_or_absent_optional_input_is_none_or_the_default():
    kwargs = bind("toy", toy, job(**TOY_JOB))
    assert kwargs["ram"] is None  # an input function returned []: the annotation allows None
    assert "tuned" not in kwargs  # absent: the function's default
    with_tuned = {**TOY_JOB, "input": {**TOY_JOB["input"], "tuned": "t.json"}}
    assert bind("toy", toy, job(**with_tuned))["tuned"] == "t.json"


def test_a_missing_argument_names_the_rule_and_the_argument():
    incomplete = {**TOY_JOB, "wildcards": {}}
    with pytest.raises(EntryError, match=r"rule toy: .*needs 'views'"):
        bind("toy", toy, job(**incomplete))


def test_a_param_the_function_does_not_take_is_an_error():
    renamed = {**TOY_JOB, "params": {**TOY_JOB["params"], "sead": 3}}
    with pytest.raises(EntryError, match=r"rule toy: .*takes no argument sead"):
        bind("toy", toy, job(**renamed))


def test_a_name_given_twice_is_an_error():
    twice = {**TOY_JOB, "output": {"out": "o.json", "seed": "x"}}
    with pytest.raises(EntryError, match=r"rule toy: 'seed' is both an output and a params"):
        bind("toy", toy, job(**twice))


def test_inputs_and_outputs_hand_over_every_named_file():
    def report(*, inputs: dict, outputs: dict, threads: int, log: str | None) -> None: ...

    kwargs = bind("r", report, job(input={"a": ["x", "y"], "b": "z"}, output={"t": "t.csv"}))
    assert kwargs["inputs"] == {"a": ["x", "y"], "b": "z"}
    assert kwargs["outputs"] == {"t": "t.csv"}
    assert kwargs["threads"] == 2 and kwargs["log"] == "logs/toy.log"


def test_settings_are_named_by_their_last_key_or_their_keys():
    found = settings({"device": "cpu", "batch_size": 2, "probe": {"memory_mb": 100},
                      "downloads": {"retries": 1}})  # fmt: skip
    assert found == {"device": "cpu", "batch_size": 2, "memory_mb": 100, "retries": 1}


def test_an_unknown_rule_is_an_error_naming_it():
    with pytest.raises(EntryError, match=r"rule no_such_rule: no function; add"):
        entry.function_of("no_such_rule")
    assert check_rule("no_such_rule", names=[]) == [
        "rule no_such_rule: no function; add `'no_such_rule': 'module:function'` to ENTRIES"
    ]


def test_a_renamed_function_argument_is_caught_at_plan_time():
    # make_phantoms takes n_phantoms (the rule's wildcard) and part, writes phantoms
    assert check_rule("make_phantoms", names=["n_phantoms", "part", "phantoms"]) == []
    problems = check_rule("make_phantoms", names=["n", "part", "phantoms"], params=["n"])
    assert any("needs 'n_phantoms'" in p for p in problems)
    assert any("takes no argument 'n'" in p for p in problems)


def test_run_logs_a_mistake_as_one_line_and_exits_1(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setitem(ENTRIES, "toy", "tests:toy")
    monkeypatch.setattr(entry, "function_of", lambda rule: lambda **kw: calls.append(kw) or 7)
    log = tmp_path / "toy.log"
    assert entry.run(job(params={}, log=[str(log)])) == 7 and calls == [{}]
    monkeypatch.setattr(entry, "function_of", lambda rule: toy)
    with pytest.raises(SystemExit) as exit_:
        entry.run(job(log=[str(log)]))
    assert exit_.value.code == 1
    logging.shutdown()
    assert "rule toy: " in log.read_text() and "needs 'sinograms'" in log.read_text()


def test_a_param_passes_as_it_is_even_empty_or_none():
    def download(*, test_images: list, sha256: str | None = "x", resolution: str = "480p"):
        return None

    kwargs = bind("d", download, job(params={"test_images": [], "sha256": None}))
    assert kwargs == {"test_images": [], "sha256": None}  # no param: the default
