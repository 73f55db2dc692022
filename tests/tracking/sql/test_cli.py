"""manage.py ae_query prints a table, JSON, or the body of the query's own FORMAT."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.tracking.sql.conftest import LoadedProject


def run(*args: str) -> str:
    out = StringIO()
    call_command("ae_query", *args, stdout=out)
    return out.getvalue()


def test_prints_an_aligned_table(loaded: LoadedProject) -> None:
    output = run(
        "--project",
        loaded.project.slug,
        "SELECT city, count() AS n FROM weather WHERE city IN ('Oslo', 'Cairo') GROUP BY city ORDER BY city",
    )
    assert output == "city   n\n-----  --\nCairo  48\nOslo   48\n(2 rows)\n"


def test_json_format_prints_the_clickhouse_json_body(loaded: LoadedProject) -> None:
    output = run("--project", loaded.project.slug, "--format", "json", "SELECT count() AS n FROM weather")
    assert json.loads(output)["data"] == [{"n": "240"}]


def test_format_clause_in_the_sql_wins(loaded: LoadedProject) -> None:
    assert run("--project", loaded.project.slug, "SELECT 1 AS a, 'x' AS b FORMAT CSV") == '1,"x"\n'


def test_invalid_sql_and_unknown_project_are_command_errors(loaded: LoadedProject) -> None:
    with pytest.raises(CommandError, match="Input was invalid: Unknown table nope"):
        run("--project", loaded.project.slug, "SELECT * FROM nope")
    with pytest.raises(CommandError, match="No project with slug 'missing'"):
        run("--project", "missing", "SELECT 1")
