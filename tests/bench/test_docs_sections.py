"""The bench rewrites only its own part of docs/benchmarks.md: other helpers' sections stay as they are."""

from pathlib import Path

import pytest

from bench import run


@pytest.fixture
def doc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "benchmarks.md"
    monkeypatch.setattr(run, "DOC", path)
    return path


def test_a_new_file_gets_the_section_under_the_title(doc: Path) -> None:
    doc.write_text("# Benchmarks\n\n## Middleware\n\nmiddleware figures\n")

    run.docs_update(f"{run.START}\nours v1\n{run.END}")

    text = doc.read_text()
    assert text.index("ours v1") < text.index("## Middleware")
    assert "middleware figures" in text


def test_a_rerun_replaces_only_the_text_between_the_markers(doc: Path) -> None:
    doc.write_text(
        f"# Benchmarks\n\n{run.START}\nours v1\n{run.END}\n\n## Findings\n\nhand-written\n\n"
        "<!-- bench:reports:start -->\n## Reports\n\nreports figures\n<!-- bench:reports:end -->\n"
    )

    run.docs_update(f"{run.START}\nours v2\n{run.END}")

    text = doc.read_text()
    assert "ours v1" not in text and text.count("ours v2") == 1
    assert "hand-written" in text and "reports figures" in text
    assert text.count(run.START) == 1 and text.count(run.END) == 1
