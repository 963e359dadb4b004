"""The comparison, recommendation and plan, checked against stores seeded with known
per-sample results (a real SQLite file, evidence computed by the real code path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from benchdock.harnesses.choice.catalogue import catalogue
from benchdock.harnesses.choice.compare import compare
from benchdock.harnesses.choice.plan import plan
from benchdock.harnesses.choice.recommend import recommend
from benchdock.harnesses.choice.stats import sign_test_p
from benchdock.harnesses.choice.views import Constraints
from benchdock.harnesses.contract.metrics import wilson
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.errors import BenchdockError
from benchdock.store.db import make_engine, migrate
from tests.support.seed import aider_outcomes, passes, seed_run


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    # no reference-harness venvs here: BFCL and aider runs are "not ready" in plans (the
    # catalogue is built once per process: built again here, and after, for the next test)
    monkeypatch.setenv("BENCHDOCK_ENVS", str(tmp_path / "no-envs"))
    catalogue.cache_clear()
    yield make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    catalogue.cache_clear()


def cell(cmp, model: str, dim: str):  # type: ignore[no-untyped-def]
    return next(r for r in cmp.models if r.model == model).dimensions[dim]


def test_dimension_score_interval_and_provenance(db: Engine) -> None:
    a = seed_run(db, "m", "humaneval", passes("HumanEval/", 100, 90), params={"max_tokens": 512})
    b = seed_run(db, "m", "mbpp-plus", passes("Mbpp/", 50, 30))
    c = compare(db)
    gen = cell(c, "m", "generation")
    # pooled over both benchmarks' tasks: 120 of 150, Wilson interval over 150
    assert gen.measured and gen.n == 150 and gen.score == pytest.approx(0.8)
    assert gen.ci95 == pytest.approx(list(wilson(120, 150)))
    assert gen.ci95 == pytest.approx([0.7289, 0.8562], abs=1e-4)  # Wilson, by hand
    assert {s.run_id for s in gen.sources} == {a, b}
    assert gen.settings_differ == "pooled runs differ in max_tokens"
    assert c.runs[a].benchmark == "humaneval" and c.runs[a].settings["max_tokens"] == 512
    assert c.runs[a].benchmark_version == "v-test" and c.runs[a].finished_at is not None
    assert c.leaders["generation"] == "m" and gen.vs_leader is None
    # speed from the runs: 100 tokens in 2 s after a 0.2 s first token -> 50 tokens/s
    assert c.models[0].speed.tokens_per_s == pytest.approx(50.0)
    assert c.models[0].speed.ttft_s == pytest.approx(0.2)
    assert c.models[0].speed.wall_s_per_task == pytest.approx(2.0)


def test_not_measured_names_the_benchmark_and_its_estimate(db: Engine) -> None:
    seed_run(db, "m", "humaneval", passes("HumanEval/", 20, 10), tokens_per_s=25.0)
    c = compare(db)
    tool = cell(c, "m", "tool_use")
    assert not tool.measured and tool.score is None and tool.n == 0  # never a silent zero
    assert tool.not_measured is not None and tool.not_measured.measured_by == "bfcl"
    assert tool.not_measured.limit == 6 and tool.not_measured.estimate_minutes > 0
    assert "25.0 tokens/s" in (tool.not_measured.estimate_basis or "")
    plan_dim = cell(c, "m", "planning").not_measured
    assert plan_dim is not None and plan_dim.measured_by == "bfcl-multi-turn-base"
    tests = cell(c, "m", "test_generation").not_measured
    assert tests is not None and tests.measured_by == "testgen-humaneval-plus"
    assert "TestEval" in c.how_to_measure["test_generation"].elsewhere
    assert c.how_to_measure["tool_use"].benchmarks[0].split(" ")[0] == "bfcl"
    # a benchmark measured here is estimated from its own timing: 2 s per task
    seed_run(db, "m2", "humaneval", passes("HumanEval/", 20, 10), wall_s_per_task=3.0)
    gen = cell(compare(db, ["m"]), "m", "generation")
    assert gen.measured
    other = compare(db, ["m2"])
    assert cell(other, "m2", "tool_use").not_measured.estimate_minutes > 0  # type: ignore[union-attr]


def test_clearly_better_pair_is_significant_and_paired(db: Engine) -> None:
    seed_run(db, "strong", "humaneval", passes("HumanEval/", 100, 90))
    seed_run(db, "weak", "humaneval", passes("HumanEval/", 100, 40))
    sig = cell(compare(db), "weak", "generation").vs_leader
    assert sig is not None and sig.against == "strong" and sig.paired
    assert sig.n_shared == 100 and (sig.wins, sig.losses) == (0, 50)
    assert sig.p_value == pytest.approx(2 * 0.5**50) and sig.significant
    assert sig.difference == pytest.approx(-0.5)


def test_indistinguishable_pair_is_not_significant(db: Engine) -> None:
    # 50 vs 51 passes, differing on 5 tasks: 2 one way, 3 the other
    seed_run(db, "a", "humaneval", passes("HumanEval/", 100, [*range(48), 48, 49]))
    seed_run(db, "b", "humaneval", passes("HumanEval/", 100, [*range(48), 50, 51, 52]))
    sig = cell(compare(db), "a", "generation").vs_leader
    assert sig is not None and sig.against == "b" and sig.paired
    assert (sig.wins, sig.losses) == (2, 3)
    assert sig.p_value == pytest.approx(sign_test_p(2, 3)) and sig.p_value == pytest.approx(1.0)
    assert not sig.significant and "not significantly" in sig.verdict


def test_no_shared_tasks_is_an_unpaired_comparison(db: Engine) -> None:
    seed_run(db, "a", "humaneval", passes("HumanEval/", 100, 80))
    seed_run(db, "b", "mbpp-plus", passes("Mbpp/", 100, 50))
    sig = cell(compare(db), "b", "generation").vs_leader
    assert sig is not None and not sig.paired and sig.n_shared == 0
    assert sig.significant and sig.p_value < 1e-4 and "unpaired" in sig.verdict


def test_partly_shared_tasks_are_paired_on_the_shared_ones(db: Engine) -> None:
    seed_run(db, "a", "humaneval", passes("HumanEval/", 40, 40))
    seed_run(db, "b", "humaneval", {f"HumanEval/{i}": False for i in range(20, 60)})
    sig = cell(compare(db), "b", "generation").vs_leader
    assert sig is not None and sig.paired and sig.n_shared == 20 and sig.losses == 20


def test_aider_map_editing_multilanguage_debugging(db: Engine) -> None:
    py, py_x = aider_outcomes("python", [True, False, False, False], [None, True, False, True])
    rs, rs_x = aider_outcomes("rust", [True, True, False, False], [None, None, True, False])
    outcomes = {**py, **rs, "java/ex0": False}
    extras = {**py_x, **rs_x, "java/ex0": {"language": "java", "status": "toolchain_missing"}}
    seed_run(db, "m", "aider-polyglot", outcomes, extras=extras)
    c = compare(db)
    # the missing toolchain says nothing about the model: 8 exercises, not 9
    assert cell(c, "m", "editing").n == 8 and cell(c, "m", "editing").score == pytest.approx(3 / 8)
    ml = cell(c, "m", "multi_language")  # rust only
    assert ml.n == 4 and ml.score == pytest.approx(0.5)
    dbg = cell(c, "m", "debugging")  # of the 5 attempt-1 failures, 3 fixed by attempt 2
    assert dbg.n == 5 and dbg.score == pytest.approx(3 / 5)
    assert {p for s in ml.sources for p in s.parts} == {"rust"}


def test_bfcl_map_and_the_run_that_counts_per_category(db: Engine) -> None:
    tasks = {**passes("simple_python_", 10, 5), **passes("multi_turn_base_", 4, 2),
             **passes("multi_turn_long_context_", 4, 1)}
    old = seed_run(db, "m", "bfcl", tasks)
    c = compare(db)
    assert cell(c, "m", "tool_use").n == 18 and cell(c, "m", "tool_use").score == pytest.approx(8 / 18)
    assert cell(c, "m", "planning").n == 8 and cell(c, "m", "planning").score == pytest.approx(3 / 8)
    assert cell(c, "m", "long_context").n == 4 and cell(c, "m", "long_context").score == 0.25
    # a newer run of one category pools with the older one there: each task once, the
    # newest verdict where they differ (here every simple task again, all passed)
    new = seed_run(db, "m", "bfcl-simple", passes("simple_python_", 10, 10))
    tool = cell(compare(db), "m", "tool_use")
    assert tool.n == 18 and tool.score == pytest.approx(13 / 18)
    pooled = next(s for s in tool.sources if s.pooled_runs)
    assert pooled.run_id == new and pooled.pooled_runs == [new, old]
    assert {s.run_id for s in tool.sources} == {old, new}
    # a newer, smaller run: its three tasks take its (failed) verdicts, the rest stay
    newest = seed_run(db, "m", "bfcl-simple", passes("simple_python_", 3, 0))
    c = compare(db)
    tool = cell(c, "m", "tool_use")
    assert tool.n == 18 and tool.score == pytest.approx((7 + 3) / 18)
    assert next(s for s in tool.sources if s.pooled_runs).pooled_runs == [newest, new, old]
    assert {newest, new, old} <= set(c.runs)  # every pooled run's provenance is listed
    assert any("pooled" in n and "newest verdict" in n for n in c.notes)  # the rule, stated


def test_runs_with_other_settings_are_not_pooled(db: Engine) -> None:
    a = seed_run(db, "m", "humaneval", passes("HumanEval/", 20, 20))
    b = seed_run(db, "m", "humaneval", passes("HumanEval/", 5, 0), params={"temperature": 0.8})
    gen = cell(compare(db), "m", "generation")
    assert gen.n == 20 and gen.score == 1.0  # the larger settings group counts
    assert [s.run_id for s in gen.sources] == [a] and b not in {s.run_id for s in gen.sources}


def test_decide_batches_pool_into_one_paired_comparison(db: Engine) -> None:
    # two batches per model, as decide makes them: the comparison sees all 16 tasks, paired
    ids = [f"HumanEval/{i}" for i in range(16)]
    for m, ok in (("a", True), ("b", False)):
        for batch in (ids[:8], ids[8:]):
            seed_run(db, m, "humaneval", {t: [ok] for t in batch})
    gen = cell(compare(db), "b", "generation")
    assert gen.n == 16 and gen.vs_leader is not None
    assert gen.vs_leader.paired and gen.vs_leader.n_shared == 16 and gen.vs_leader.losses == 16


def test_samples_per_task_are_averaged(db: Engine) -> None:
    seed_run(db, "m", "humaneval", {"HumanEval/0": [True, False, False, False],
                                    "HumanEval/1": [True, True, True, True]})
    gen = cell(compare(db), "m", "generation")
    assert gen.n == 2 and gen.score == pytest.approx(0.625)


def test_only_succeeded_runs_count(db: Engine) -> None:
    seed_run(db, "m", "humaneval", passes("HumanEval/", 10, 10), status="failed")
    with pytest.raises(BenchdockError, match=r"no succeeded runs for \['m'\]"):
        compare(db, ["m"])


def _two_specialists(db: Engine) -> None:
    seed_run(db, "coder", "humaneval", passes("HumanEval/", 100, 90), tokens_per_s=30)
    seed_run(db, "coder", "bfcl-simple", passes("simple_python_", 100, 30), tokens_per_s=30)
    seed_run(db, "caller", "humaneval", passes("HumanEval/", 100, 40), tokens_per_s=80)
    seed_run(db, "caller", "bfcl-simple", passes("simple_python_", 100, 90), tokens_per_s=80)


def test_ranking_follows_the_priorities(db: Engine) -> None:
    _two_specialists(db)
    auto = recommend(db, "autocomplete")
    assert [r.model for r in auto.ranking] == ["coder", "caller"]
    assert auto.ranking[0].dimensions["generation"] == pytest.approx(0.9)
    assert "strongest generation 0.900" in auto.ranking[0].reason
    # both are on the quality/speed front: one is better, the other faster
    assert set(auto.pareto_front) == {"caller", "coder"}
    tools = recommend(db, "tool-heavy agent")
    assert tools.profile == "tool-heavy-agent"
    assert [r.model for r in tools.ranking] == ["caller", "coder"]
    custom = recommend(db, {"generation": 1, "tool_use": 1})
    # coder (0.9 + 0.3) / 2 = 0.6 vs caller (0.4 + 0.9) / 2 = 0.65
    assert [r.model for r in custom.ranking] == ["caller", "coder"]
    assert custom.ranking[0].score == pytest.approx(0.65) and custom.ranking[0].coverage == 1.0
    # here caller is both better and faster: coder is off the front
    assert custom.pareto_front == ["caller"] and not custom.ranking[1].pareto


def test_constraints_exclude_with_reasons_and_pareto_drops_the_dominated(db: Engine) -> None:
    _two_specialists(db)
    seed_run(db, "slow", "humaneval", passes("HumanEval/", 100, 30), tokens_per_s=10,
             context_size=2048)
    seed_run(db, "slow", "bfcl-simple", passes("simple_python_", 100, 30), tokens_per_s=10,
             context_size=2048)
    rec = recommend(db, {"generation": 1, "tool_use": 1})
    assert "slow" not in rec.pareto_front and rec.ranking[-1].model == "slow"
    rec = recommend(db, {"generation": 1, "tool_use": 1}, Constraints(min_tokens_per_s=50))
    assert [r.model for r in rec.ranking] == ["caller"]
    reasons = {e.model: e.reason for e in rec.excluded}
    assert "tokens/s 30 below the minimum 50" in reasons["coder"]
    rec = recommend(db, "balanced", Constraints(context_needed=4096))
    assert "context size (tokens) 2048 below the minimum 4096" in {
        e.model: e.reason for e in rec.excluded}["slow"]


def test_separation_and_the_run_that_would_decide(db: Engine) -> None:
    _two_specialists(db)
    clear = recommend(db, {"tool_use": 1})
    assert clear.separated is True and clear.next_run is None
    # close on generation, 20 tasks each: not separated; the deciding run is named
    seed_run(db, "x", "humaneval", passes("HumanEval/", 20, 12))
    seed_run(db, "y", "humaneval", passes("HumanEval/", 20, 11))
    close = recommend(db, {"generation": 1}, models=["x", "y"])
    assert close.separated is False and close.next_run is not None
    assert close.next_run.dimension == "generation"
    # the benchmark both ran, on both, big enough for the difference seen (12/20 vs 11/20)
    assert close.next_run.benchmark == "humaneval" and close.next_run.models == ["x", "y"]
    assert close.next_run.limit is None  # ~1,500 tasks needed: the whole 164
    assert "within the noise" in close.next_run.why and "on the same tasks" in close.next_run.why
    # a dimension measured for one of the two decides
    seed_run(db, "x", "bfcl-simple", passes("simple_python_", 20, 10))
    gap = recommend(db, {"generation": 1, "tool_use": 1}, models=["x", "y"])
    assert gap.separated is False and gap.next_run is not None
    assert gap.next_run.dimension == "tool_use" and gap.next_run.models == ["y"]
    assert gap.next_run.benchmark == "bfcl" and gap.next_run.estimate_minutes > 0


def test_plan_covers_cheapest_informative_first_within_budget(db: Engine) -> None:
    seed_run(db, "m", "humaneval", passes("HumanEval/", 10, 5), wall_s_per_task=6.0)
    p = plan(db, ["m", "fresh"], budget_minutes=30, priorities={"generation": 1},
             known_models=["fresh"])
    # m has 10 generation tasks (thin: planned again); fresh has none. Both run the same
    # tasks (a paired comparison after): 100 tasks at 6 s = 10 min each
    assert [(r.model, r.benchmark, r.limit, r.dimensions) for r in p.runs] == [
        ("m", "humaneval", 100, ["generation"]), ("fresh", "humaneval", 100, ["generation"])]
    assert [r.estimate_minutes for r in p.runs] == [pytest.approx(10.0), pytest.approx(10.0)]
    assert p.runs[0].estimate_basis == "measured: m on humaneval here"
    assert p.runs[1].estimate_basis.startswith("measured: m on humaneval here (fresh's own speed")
    assert p.planned_minutes == pytest.approx(20.0)
    assert "50%" in p.runs[0].why and "100%" in p.runs[1].why  # thin evidence: half the weight
    # 1 minute: the run is cut to the 10 tasks that fit
    cut = plan(db, ["fresh"], budget_minutes=1, priorities={"generation": 1},
               known_models=["fresh"])
    assert [(r.benchmark, r.limit, r.tasks) for r in cut.runs] == [("humaneval", 10, 10)]
    assert "limit cut to 10 to fit the budget" in cut.runs[0].why
    # 18 s fit 3 tasks, fewer than a run is cut down to
    tight = plan(db, ["fresh"], budget_minutes=0.3, priorities={"generation": 1},
                 known_models=["fresh"])
    assert tight.runs == [] and "over budget" in tight.uncovered[0].reason
    assert tight.uncovered[0].models == ["fresh"] and tight.uncovered[0].setup is None
    blocked = plan(db, ["m"], budget_minutes=600, priorities="tool-heavy-agent")
    # what it cannot cover is grouped by reason, each group once, with the set-up that fixes it
    reasons = {d: u for u in blocked.uncovered for d in u.dimensions}
    assert len({u.reason for u in blocked.uncovered}) == len(blocked.uncovered)
    planned = {d for r in blocked.runs for d in r.dimensions}
    assert "tool_use" in planned or (reasons["tool_use"].reason == "bfcl is not set up here"
                                     and "setup_benchmark(['bfcl'])" in (
                                         reasons["tool_use"].setup or ""))
    # IFEval measures instruction following: planned, or named with its set-up when not ready
    assert "instruction_following" in planned or "setup_benchmark(['ifeval'])" in (
        reasons["instruction_following"].setup or "")
    # only runs that can run now are planned
    assert all(get_benchmark(r.benchmark).readiness() is None for r in blocked.runs)


def test_bad_input_names_the_value_and_the_choices(db: Engine) -> None:
    seed_run(db, "m", "humaneval", passes("HumanEval/", 5, 5))
    with pytest.raises(BenchdockError, match=r"unknown dimension\(s\) \['speed'\]; valid: generation"):
        compare(db, dimensions=["speed"])
    with pytest.raises(BenchdockError, match="unknown priority profile 'fast'; valid: agentic-coding"):
        recommend(db, "fast")
    with pytest.raises(BenchdockError, match="weights must be >= 0"):
        recommend(db, {"generation": -1})
    with pytest.raises(BenchdockError, match=r"unknown model\(s\) \['ghost'\]; models .*: m"):
        plan(db, ["ghost"], 10)
    with pytest.raises(BenchdockError, match="budget_minutes must be > 0"):
        plan(db, ["m"], 0)


def test_evidence_is_made_again_for_an_older_store(db: Engine) -> None:
    seed_run(db, "m", "humaneval", passes("HumanEval/", 10, 7))
    assert cell(compare(db), "m", "generation").score == pytest.approx(0.7)
    with db.begin() as conn:  # a store from before the evidence tables
        conn.execute(text("DROP TABLE dimension_evidence"))
        conn.execute(text("DROP TABLE run_summary"))
        conn.execute(text("DELETE FROM schemamigration WHERE name LIKE '0003%'"))
    assert migrate(db) == ["0003_evidence_tables"]
    assert cell(compare(db), "m", "generation").score == pytest.approx(0.7)


def test_pages_best_first_with_leaders_over_all_models(db: Engine) -> None:
    seed_run(db, "mid", "humaneval", passes("HumanEval/", 20, 10))
    seed_run(db, "top", "humaneval", passes("HumanEval/", 20, 18))
    seed_run(db, "low", "humaneval", passes("HumanEval/", 20, 2))
    first = compare(db, limit=2)
    assert [r.model for r in first.models] == ["top", "mid"]
    assert first.total_models == 3 and first.next_offset == 2
    rest = compare(db, limit=2, offset=2)
    assert [r.model for r in rest.models] == ["low"] and rest.next_offset is None
    # the leader is the leader of all three, named on every page
    assert rest.leaders["generation"] == "top"
    low = cell(rest, "low", "generation").vs_leader
    assert low is not None and low.against == "top" and low.significant
    # nulls are left out of what goes over the wire
    dumped = rest.models[0].dimensions["generation"].model_dump(mode="json")
    assert "not_measured" not in dumped and "settings_differ" not in dumped
    with pytest.raises(BenchdockError, match="limit >= 1"):
        compare(db, limit=0)


def test_radar_draws_models_the_ranking_left_out(db: Engine) -> None:
    from benchdock.harnesses.report.charts import radar, radar_models

    seed_run(db, "ranked", "humaneval", passes("HumanEval/", 10, 5))
    seed_run(db, "tools-only", "bfcl-simple", passes("simple_python_", 10, 5))
    rec = recommend(db, {"generation": 1})  # tools-only has no generation evidence
    assert [r.model for r in rec.ranking] == ["ranked"]
    cmp = compare(db, limit=None)
    assert radar_models(cmp, [r.model for r in rec.ranking]) == ["ranked", "tools-only"]
    assert radar(cmp, ["ranked", "tools-only"]).startswith(b"\x89PNG")
