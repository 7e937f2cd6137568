"""The per-category table of benchmarks/gate_categories.py: three outcomes, targets, order."""

from __future__ import annotations

from pathlib import Path

from benchmarks.gate_categories import ANSWER, REFUSE, Case, loso_rows, outcome_table, render


def _outcome(name: str, *, refused: bool, cautioned: bool = False) -> dict[str, object]:
    return {"path": f"/x/{name}", "refused": refused, "cautioned": cautioned,
            "label": None if refused else "COVID-19"}


def test_every_image_gets_one_of_three_outcomes_and_labelled_ones_are_named() -> None:
    cases = [Case(Path("/x/a.jpg"), "CT chest", REFUSE, "ct"),
             Case(Path("/x/b.jpg"), "CT chest", REFUSE, "ct"),
             Case(Path("/x/c.jpg"), "CT chest", REFUSE, "ct"),
             Case(Path("/x/d.png"), "frontal TEST, nih", ANSWER)]
    outcomes = [_outcome("a.jpg", refused=True), _outcome("b.jpg", refused=False,
                                                          cautioned=True),
                _outcome("c.jpg", refused=False), _outcome("d.png", refused=False)]
    table = outcome_table(cases, outcomes)
    ct = table["CT chest"]
    assert (ct["n"], ct["refused"], ct["cautioned"], ct["answered"]) == (3, 1, 1, 1)
    assert ct["labelled"] == ["b.jpg: COVID-19 (caution)", "c.jpg: COVID-19 (NO caution)"]
    assert table["frontal TEST, nih"]["labelled"] == []  # a frontal film answered is right
    text = render(table, {}, "header")
    ct_line = next(line for line in text.splitlines() if line.startswith("| CT chest"))
    assert "33.3% (1)" in ct_line
    assert ct_line.endswith("| **no** |")
    nih_line = next(line for line in text.splitlines() if line.startswith("| frontal TEST"))
    assert nih_line.endswith("| yes |")
    assert text.index("| CT chest") < text.index("| frontal TEST")
    assert "`c.jpg: COVID-19 (NO caution)`" in text


def test_leave_one_source_out_rows_join_the_table_against_their_own_target() -> None:
    rows = loso_rows({"per_source": {"nih": {"n": 200, "refused_two_tiers": 0.025,
                                             "cautioned": 0.1}}})
    (name, entry), = rows.items()
    assert "never saw" in name
    assert name.endswith("nih")
    assert (entry["refused"], entry["cautioned"], entry["answered"]) == (5, 20, 175)
    line = next(line for line in render(rows, {}, "h").splitlines()
                if line.startswith("| frontal films of a source"))
    assert "≤ 3% refused" in line
    assert line.endswith("| yes |")
