"""Each bench script rewrites only its own part of docs/benchmarks.md: other sections stay as they are."""

from pathlib import Path

import pytest

from bench.env import docs_update

INGEST_START, INGEST_END = "<!-- bench:ingest:start -->", "<!-- bench:ingest:end -->"


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    return tmp_path / "benchmarks.md"


def test_a_new_file_gets_the_section_under_the_title(doc: Path) -> None:
    doc.write_text("# Benchmarks\n\n## Middleware\n\nmiddleware figures\n")

    docs_update("ingest", "ours v1", at_top=True, doc=doc)

    text = doc.read_text()
    assert text == f"# Benchmarks\n\n{INGEST_START}\nours v1\n{INGEST_END}\n\n## Middleware\n\nmiddleware figures\n"


def test_a_new_section_of_another_script_is_appended(doc: Path) -> None:
    doc.write_text("# Benchmarks\n\n## Findings\n\nhand-written\n\n")

    docs_update("admin", "## Admin\n\nadmin figures", doc=doc)

    assert doc.read_text() == (
        "# Benchmarks\n\n## Findings\n\nhand-written\n\n"
        "<!-- bench:admin:start -->\n## Admin\n\nadmin figures\n<!-- bench:admin:end -->\n"
    )


def test_a_missing_file_is_created_with_the_title(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "benchmarks.md"

    docs_update("otlp", "otlp figures", doc=doc)

    assert doc.read_text() == "# Benchmarks\n\n<!-- bench:otlp:start -->\notlp figures\n<!-- bench:otlp:end -->\n"


def test_a_rerun_replaces_only_the_text_between_the_markers(doc: Path) -> None:
    doc.write_text(
        f"# Benchmarks\n\n{INGEST_START}\nours v1\n{INGEST_END}\n\n## Findings\n\nhand-written\n\n"
        "<!-- bench:reports:start -->\n## Reports\n\nreports figures\n<!-- bench:reports:end -->\n"
    )

    docs_update("ingest", "ours v2", at_top=True, doc=doc)
    docs_update("reports", "## Reports\n\nreports v2", doc=doc)

    assert doc.read_text() == (
        f"# Benchmarks\n\n{INGEST_START}\nours v2\n{INGEST_END}\n\n## Findings\n\nhand-written\n\n"
        "<!-- bench:reports:start -->\n## Reports\n\nreports v2\n<!-- bench:reports:end -->\n"
    )
