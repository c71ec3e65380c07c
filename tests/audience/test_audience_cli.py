"""The audience and brief commands end to end, on both databases.

Most commands run in-process through `briefmail.cli.main` (the same error mapping as
the console script); a few run as real `python -m briefmail` processes to prove the
entry point, the exit codes and that no traceback reaches a person.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import run_cli, run_process
from tests.conftest import EXAMPLE_BRIEF

SLUG = "2024-01-08-clinician-educators-want-coaching-programs-not-more-lectures"

Run = tuple[int, str, str]
Cli = Callable[..., Run]


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*args: str) -> Run:
        return run_cli(list(args), monkeypatch, capsys)

    return run


def test_subscribers_import_add_unsubscribe_list_export(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "people.csv"
    source.write_text(
        "email,name,topics\n"
        "Ann@Example.org,Ann,Learning design;Simulation\n"
        "nobody,X,\n"
        "bob@example.org,Bob,\n",
        encoding="utf-8",
    )
    code, out, err = cli("subscribers", "import", str(source))
    assert code == 0
    assert out.strip().splitlines()[-1] == "added 2, updated 0, unchanged 0, skipped 1"
    assert err.strip() == f"{source}:3: email: no @ ('nobody')"

    code, out, _ = cli(
        "subscribers",
        "add",
        "cat@example.org",
        "--name",
        "Cat",
        "--topics",
        "simulation, Patient safety",
    )
    assert (code, out.strip()) == (0, "added cat@example.org (active; patient-safety, simulation)")
    code, out, _ = cli("subscribers", "add", "ANN@example.org", "--topics", "")
    assert (code, out.strip()) == (0, "updated Ann@example.org (active; all topics)")
    code, out, _ = cli("subscribers", "unsubscribe", "bob@EXAMPLE.org")
    assert (code, out.strip()) == (0, "bob@example.org: unsubscribed")
    code, out, _ = cli("subscribers", "suppress", "cat@example.org", "--reason", "asked by phone")
    assert (code, out.strip()) == (0, "cat@example.org: suppressed (asked by phone)")

    code, out, err = cli("subscribers", "add", "CAT@example.org", "--name", "Cat")
    assert out.strip() == "updated cat@example.org (active; patient-safety, simulation)"
    assert err.strip() == "note: cat@example.org is on the suppression list; no send will reach it"

    code, out, _ = cli("subscribers", "list", "--json")
    assert code == 0
    listed = json.loads(out)["subscribers"]
    keys = ("email", "name", "status", "topics", "suppressed")
    assert [{k: p[k] for k in keys} for p in listed] == [
        {
            "email": "Ann@example.org",
            "name": "Ann",
            "status": "active",
            "topics": [],
            "suppressed": None,
        },
        {
            "email": "bob@example.org",
            "name": "Bob",
            "status": "unsubscribed",
            "topics": [],
            "suppressed": None,
        },
        {
            "email": "cat@example.org",
            "name": "Cat",
            "status": "active",
            "topics": ["patient-safety", "simulation"],
            "suppressed": "asked by phone",
        },
    ]
    code, out, _ = cli("subscribers", "list", "--status", "unsubscribed")
    assert code == 0
    assert "bob@example.org" in out
    assert "Ann@example.org" not in out

    code, exported, _ = cli("subscribers", "export")
    assert code == 0
    assert next(iter(csv.reader(io.StringIO(exported)))) == ["email", "name", "topics", "status"]
    code, log, _ = cli("audit", "list", "--json", "--action", "subscribers.export")
    assert [e["detail"] for e in json.loads(log)["entries"]] == [{"rows": 3}]  # who took the list
    again = tmp_path / "export.csv"
    again.write_text(exported, encoding="utf-8")
    code, out, err = cli("subscribers", "import", str(again))
    assert (code, out.strip(), err) == (0, "added 0, updated 0, unchanged 3, skipped 0", "")


def test_topics_list(cli: Cli) -> None:
    cli("subscribers", "add", "a@example.org", "--topics", "Learning design")
    cli("subscribers", "add", "b@example.org")
    code, out, _ = cli("topics", "list", "--json")
    assert code == 0
    assert json.loads(out) == {
        "topics": [{"slug": "learning-design", "name": "Learning design", "subscribers": 1}],
        "all_topics": 1,
    }
    code, out, _ = cli("topics", "list")
    assert code == 0
    assert "Learning design" in out
    assert "1 subscriber with no topics takes all topics" in out


def test_brief_import_approve_list_and_audience(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("brief", "import", str(EXAMPLE_BRIEF))
    assert code == 0
    assert out.strip().splitlines()[-1] == SLUG
    assert "stored new brief (draft)" in out
    code, out, _ = cli("brief", "import", str(EXAMPLE_BRIEF))
    assert out.strip().splitlines() == ["unchanged; status draft", SLUG]

    code, out, _ = cli("brief", "approve", SLUG, "--by", "Dana")
    assert code == 0
    assert out.startswith(f"{SLUG}: approved by Dana at ")
    code, out, _ = cli("brief", "list", "--json")
    (listed,) = json.loads(out)["briefs"]
    assert listed["slug"] == SLUG
    assert listed["status"] == "approved"
    assert listed["approved_by"] == "Dana"
    assert listed["topics"] == [
        "learning-design",
        "workflow-based-education",
        "accreditation-operations",
    ]
    assert listed["coverage"] == {"start": "2024-01-08", "end": "2024-01-14"}
    code, out, _ = cli("brief", "list")
    assert code == 0
    assert "approved" in out

    people = tmp_path / "people.csv"
    people.write_text(
        "email,name,topics\n"
        "a@example.org,A,Learning design\n"
        "b@example.org,B,learning-design;Accreditation operations\n"
        "c@example.org,C,\n"
        "d@example.org,D,Simulation\n",
        encoding="utf-8",
    )
    cli("subscribers", "import", str(people))
    code, out, _ = cli("audience", SLUG, "--json")
    assert code == 0
    assert json.loads(out) == {
        "total": 3,
        "by_topic": {
            "learning-design": 2,
            "workflow-based-education": 0,
            "accreditation-operations": 1,
        },
        "all_topics": 1,
    }
    code, out, _ = cli("audience", SLUG, "--topics", "Accreditation operations", "--json")
    assert json.loads(out) == {
        "total": 2,
        "by_topic": {"accreditation-operations": 1},
        "all_topics": 1,
    }
    code, out, _ = cli("audience", SLUG)
    assert code == 0
    assert "all topics" in out
    assert "total" in out


def test_bad_input_exits_2_and_a_refusal_exits_1(cli: Cli, tmp_path: Path) -> None:
    cli("brief", "import", str(EXAMPLE_BRIEF))
    cli("subscribers", "add", "a@example.org", "--topics", "Simulation")
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("mail,name\nx@example.org,X\n", encoding="utf-8")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email,name,topics\nzoe@example.org,Zoë,\n".encode("latin-1"))
    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("subscribers", "import", str(bad_header)), 2, f"{bad_header}:1: header: expected"),
        (("subscribers", "import", str(latin)), 2, f"{latin}:2: file is not UTF-8 text"),
        (("subscribers", "import", str(tmp_path / "none.csv")), 2, "none.csv: cannot read"),
        (("subscribers", "add", "not an address"), 2, "contains spaces"),
        (("subscribers", "unsubscribe", "who@example.org"), 1, "no subscriber 'who@example.org'"),
        (("audience", "no-such-brief"), 1, "no brief 'no-such-brief'"),
        (("audience", SLUG, "--topics", "Nope"), 2, "unknown topic 'Nope'"),
        (("audience", SLUG, "--topics", "simulation"), 2, "simulation is not among the brief"),
        (("brief", "approve", "no-such-brief", "--by", "Dana"), 1, "no brief 'no-such-brief'"),
        (("brief", "approve", SLUG, "--by", " "), 2, "--by"),
        (("brief", "import", str(tmp_path / "none.md")), 2, "none.md:1: file: cannot be read"),
    ]
    for args, expected_code, message in cases:
        code, _out, err = cli(*args)
        assert code == expected_code, (args, err)
        assert err.startswith("briefmail: error: "), (args, err)
        assert message in err, (args, err)
        assert "Traceback" not in err


def test_the_entry_point_reports_errors_without_a_traceback(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("email;name;topics\n", encoding="utf-8")
    done = run_process(["subscribers", "import", str(bad)])
    assert done.returncode == 2
    assert done.stderr.startswith(f"briefmail: error: {bad}:1: header: expected columns")
    assert "Traceback" not in done.stderr
    done = run_process(["brief", "approve", "nope", "--by", "Dana"])
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.strip() == "briefmail: error: no brief 'nope' (none stored yet)"
    done = run_process(["brief", "import", str(EXAMPLE_BRIEF)])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == SLUG


def test_a_new_sqlite_database_brings_itself_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "nested" / "fresh.db"
    monkeypatch.setenv("BRIEFMAIL_DATABASE_URL", f"sqlite:///{database}")
    done = run_process(["subscribers", "add", "ann@example.org", "--name", "Ann"])
    assert done.returncode == 0, done.stderr
    assert database.exists()
    done = run_process(["subscribers", "list", "--json"])
    assert [p["email"] for p in json.loads(done.stdout)["subscribers"]] == ["ann@example.org"]
