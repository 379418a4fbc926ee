"""Pabulib .pb parser and writer: every shared real file, its quirks, and refusals.

Real files: ``shared/realdata/pabulib`` and ``pabulib-outcomes`` (see FORMATS.md §A.1);
the folder can be moved with the ``CIVICFLOW_REALDATA`` environment variable.
"""

from __future__ import annotations

import os
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ValidationError
from participation.importers.pabulib import (
    PbInstance,
    PbProject,
    PbVoter,
    parse_pb,
    write_pb,
)

REALDATA = Path(
    os.environ.get(
        "CIVICFLOW_REALDATA", Path(__file__).resolve().parents[3] / "shared" / "realdata"
    )
)
PB_FILES = sorted(
    [*REALDATA.glob("pabulib/*.pb"), *REALDATA.glob("pabulib-outcomes/*.pb")],
    key=lambda p: p.name,
)


@cache
def parsed(path: Path) -> PbInstance:
    return parse_pb(path)


def test_the_shared_folder_holds_the_43_files() -> None:
    assert len(PB_FILES) == 43, f"expected 5 + 38 .pb files under {REALDATA}"


@pytest.mark.parametrize("path", PB_FILES, ids=lambda p: p.name)
def test_real_file_parses_and_matches_its_own_meta_and_tallies(path: Path) -> None:
    pb = parsed(path)

    assert len(pb.projects) == int(pb.meta["num_projects"])
    assert len(pb.voters) == int(pb.meta["num_votes"])
    supporters = Counter(pid for v in pb.voters for pid in v.vote)
    for project in pb.projects:
        if project.votes is not None:
            assert project.votes == supporters[project.project_id], project.project_id


@pytest.mark.parametrize("path", PB_FILES, ids=lambda p: p.name)
def test_real_file_round_trips_through_the_writer(path: Path) -> None:
    pb = parsed(path)

    again = parse_pb(write_pb(pb))

    assert again == pb


def test_wieliczka_names_with_doubled_quotes_are_unquoted() -> None:
    pb = parsed(REALDATA / "pabulib" / "poland_wieliczka_2023.pb")

    names = [p.name or "" for p in pb.projects]

    assert any('"Stok pod Baranem"' in n for n in names)
    assert not any(n.startswith('"') for n in names)
    assert pb.rule == "equalshares/add1"
    assert pb.budget == 1_000_000


def test_toulouse_cumulative_points_are_parallel_int_lists() -> None:
    pb = parsed(REALDATA / "pabulib" / "france_toulouse_2019_.pb")

    first = pb.voters[0]

    assert pb.vote_type == "cumulative"
    assert first.vote == ("15", "22", "25", "10")
    assert first.points == (2, 2, 2, 1)
    assert "proposer" in pb.project_columns  # kept as text, not interpreted
    assert any("’" in (p.name or "") for p in pb.projects)  # U+2019 survives


def test_krakow_ordinal_vote_keeps_the_ranking_order() -> None:
    pb = parsed(REALDATA / "pabulib" / "poland_krakow_2018_bienczyce.pb")

    first = pb.voters[0]

    assert first.vote == ("12", "3", "9")
    assert first.extra == {"voting_method": "internet"}
    assert first.points is None


def test_gdansk_voter_demographics_are_kept_per_voter() -> None:
    pb = parsed(REALDATA / "pabulib" / "poland_gdansk_2020_rudniki.pb")

    assert pb.voters[0] == PbVoter(
        voter_id="290", vote=("2",), points=(1,), extra={"sex": "F", "age": "35"}
    )
    assert {v.extra["sex"] for v in pb.voters} == {"F", "M"}


def test_katowice_project_ids_are_text_and_columns_are_kept() -> None:
    pb = parsed(REALDATA / "pabulib-outcomes" / "poland_katowice_2020_giszowiec.pb")

    project = pb.projects[0]

    assert isinstance(project.project_id, str)
    assert "/" in project.project_id
    assert set(project.extra) == {"latitude", "longitude"}
    assert project.selected in (0, 1)


def test_poznan_selected_two_and_comment_are_read() -> None:
    pb = parsed(REALDATA / "pabulib" / "poland_poznan_2023_10-swierczewo-wilda-zielony-debiec.pb")
    district5 = parsed(
        REALDATA
        / "pabulib-outcomes"
        / "poland_poznan_2023_5-grunwald-polnoc-grunwald-poludnie-stary-grunwald.pb"
    )

    assert "selected" in pb.meta["comment"]
    assert pb.meta["subunit"] == "10 - Świerczewo, Wilda, Zielony Dębiec"
    assert sorted(p.project_id for p in district5.projects if p.selected == 2) == ["V.3", "V.5"]


def test_files_without_a_selected_column_leave_it_none() -> None:
    pb = parsed(REALDATA / "pabulib" / "france_toulouse_2019_.pb")

    assert all(p.selected is None for p in pb.projects)


def test_a_project_looks_up_by_id() -> None:
    pb = parsed(REALDATA / "pabulib" / "poland_gdansk_2020_rudniki.pb")

    assert pb.project("2").cost == 25_200
    with pytest.raises(KeyError):
        pb.project("nope")


GOOD = '''META
key;value
description;tiny
num_projects;2
num_votes;2
budget;100
vote_type;approval
PROJECTS
project_id;cost;votes;name
a;60;2;"Park ""Zielony"""
b;50;1;Bench
VOTES
voter_id;vote;age
1;a,b;30
2;a;41
'''


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def refusal(path: Path) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_pb(path)
    return info.value


def test_a_small_good_file_parses_from_path_text_and_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "good.pb", GOOD)

    from_path = parse_pb(path)

    assert from_path == parse_pb(GOOD) == parse_pb(("\ufeff" + GOOD).encode())
    assert from_path.source == "good.pb"
    assert from_path.projects[0] == PbProject("a", 60, votes=2, name='Park "Zielony"')
    assert from_path.voters[0] == PbVoter("1", ("a", "b"), extra={"age": "30"})


def test_bad_cost_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "poland_x.pb", GOOD.replace("b;50;1;Bench", "b;abc;1;Bench"))

    err = refusal(path)

    assert err.message == "poland_x.pb line 11, field cost: 'abc' is not a number"
    assert err.field == "cost"


def test_bad_points_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("vote_type;approval", "vote_type;cumulative").replace(
        "voter_id;vote;age\n1;a,b;30\n2;a;41", "voter_id;vote;points\n1;a,b;2,x\n2;a;1"
    )

    err = refusal(write(tmp_path, "cum.pb", text))

    assert err.message == "cum.pb line 14, field points: 'x' is not a number"


def test_points_count_must_match_the_vote(tmp_path: Path) -> None:
    text = GOOD.replace("vote_type;approval", "vote_type;cumulative").replace(
        "voter_id;vote;age\n1;a,b;30\n2;a;41", "voter_id;vote;points\n1;a,b;2\n2;a;1"
    )

    err = refusal(write(tmp_path, "cum.pb", text))

    assert err.field == "points"
    assert "line 14" in err.message


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("VOTES\n", "RESULTS\n")

    err = refusal(write(tmp_path, "wrong.pb", text))

    assert err.message == (
        "wrong.pb line 12, field section: "
        "unknown section 'RESULTS' (expected META, PROJECTS, VOTES)"
    )


def test_missing_section_is_refused(tmp_path: Path) -> None:
    text = GOOD[: GOOD.index("VOTES")]

    err = refusal(write(tmp_path, "short.pb", text))

    assert err.message == (
        "short.pb line 11, field VOTES: missing section VOTES (end of file reached)"
    )


def test_sections_out_of_order_are_refused(tmp_path: Path) -> None:
    head, projects = GOOD.split("PROJECTS\n")
    projects, votes = projects.split("VOTES\n")
    text = head + "VOTES\n" + votes + "PROJECTS\n" + projects

    err = refusal(write(tmp_path, "order.pb", text))

    assert err.field == "section"
    assert "out of order (expected PROJECTS)" in err.message


def test_vote_for_unknown_project_is_refused(tmp_path: Path) -> None:
    err = refusal(write(tmp_path, "ghost.pb", GOOD.replace("2;a;41", "2;a,zz;41")))

    assert err.message == (
        "ghost.pb line 15, field vote: project 'zz' is not in the PROJECTS section"
    )


def test_html_page_saved_as_pb_is_refused(tmp_path: Path) -> None:
    page = "<!DOCTYPE html>\n<html><head><title>Access Denied</title></head>\n<body/></html>\n"

    err = refusal(write(tmp_path, "denied.pb", page))

    assert err.message == (
        "denied.pb line 1, field file: looks like an HTML page, not a Pabulib file"
    )


def test_non_utf8_bytes_are_refused_with_their_line(tmp_path: Path) -> None:
    raw = GOOD.replace("Bench", "Ławka").encode("cp1250")

    err = refusal(write(tmp_path, "cp1250.pb", raw))

    assert err.field == "encoding"
    assert err.message.startswith("cp1250.pb line 11, field encoding: byte 0xa3")


def test_row_with_wrong_cell_count_is_refused(tmp_path: Path) -> None:
    err = refusal(write(tmp_path, "cells.pb", GOOD.replace("b;50;1;Bench", "b;50;1")))

    assert err.message == "cells.pb line 11, field name: 3 cells where the header has 4"


def test_duplicate_project_id_is_refused(tmp_path: Path) -> None:
    err = refusal(write(tmp_path, "dup.pb", GOOD.replace("b;50;1;Bench", "a;50;1;Bench")))

    assert err.message == "dup.pb line 11, field project_id: project 'a' appears twice"


def test_missing_budget_and_unknown_vote_type_are_refused(tmp_path: Path) -> None:
    no_budget = refusal(write(tmp_path, "nob.pb", GOOD.replace("budget;100\n", "")))
    odd_type = refusal(write(tmp_path, "odd.pb", GOOD.replace("approval", "quadratic")))

    assert no_budget.field == "budget"
    assert odd_type.message.startswith("odd.pb line 7, field vote_type: 'quadratic' is not one of")


# --- round trip of generated instances -------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
    | st.sampled_from([";", '"', ",", "\n", "'"]),
    max_size=12,
).map(str.strip)
_ID = st.text(alphabet="abcXYZ0129./-_", min_size=1, max_size=6)


@st.composite
def instances(draw: st.DrawFn) -> PbInstance:
    vote_type = draw(st.sampled_from(["approval", "cumulative", "ordinal"]))
    ids = draw(st.lists(_ID, min_size=1, max_size=5, unique=True))
    projects = tuple(
        PbProject(
            project_id=pid,
            cost=draw(st.integers(0, 10**9)),
            votes=draw(st.none() | st.integers(0, 10**6)),
            name=draw(_TEXT),
            extra={"category": draw(_TEXT)},
        )
        for pid in ids
    )
    voters = []
    for k in range(draw(st.integers(0, 5))):
        vote = tuple(draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids))))
        points = tuple(draw(st.integers(0, 9)) for _ in vote) if vote_type == "cumulative" else None
        voters.append(PbVoter(f"v{k}", vote, points, {"district": draw(_TEXT)}))
    meta = {"budget": str(draw(st.integers(0, 10**9))), "vote_type": vote_type}
    meta.update(draw(st.dictionaries(st.sampled_from(["comment", "unit", "rule"]), _TEXT)))
    voter_columns: tuple[str, ...] = ("voter_id", "vote", "points", "district")
    if vote_type != "cumulative":
        voter_columns = ("voter_id", "vote", "district")
    return PbInstance(
        meta=meta,
        projects=projects,
        voters=tuple(voters),
        project_columns=("project_id", "cost", "votes", "name", "category"),
        voter_columns=voter_columns,
    )


@settings(max_examples=150, deadline=None)
@given(instances())
def test_any_instance_round_trips(pb: PbInstance) -> None:
    assert parse_pb(write_pb(pb)) == pb


def test_a_file_cut_short_is_refused_with_the_count_named(tmp_path: Path) -> None:
    """The first 20,000 bytes of Wieliczka's real file: META says 6,586 votes."""
    source = Path(__file__).resolve().parents[2] / "examples" / "data" / "pabulib" / (
        "poland_wieliczka_2023.pb")
    cut = tmp_path / "cut.pb"
    data = source.read_bytes()[:20_000]
    cut.write_bytes(data[: data.rindex(b"\n") + 1])  # whole lines only: no broken row
    held = cut.read_text(encoding="utf-8").split("VOTES\n", 1)[1].count("\n") - 1  # minus header
    with pytest.raises(ValidationError, match=f"META says 6586 but the file holds {held}") as err:
        parse_pb(cut)
    assert err.value.field == "num_votes"
