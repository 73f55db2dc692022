"""README's configuration table names exactly the environment variables the product reads."""

import re
from pathlib import Path

from meauxcloud import devstack
from meauxcloud.environment import env

ROOT = Path(__file__).resolve().parents[1]


def _configuration_section() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return section.splitlines()


def _table_blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    previous_was_row = False
    for line in lines:
        is_row = line.startswith("|")
        if is_row and not previous_was_row:
            blocks.append([])
        if is_row:
            blocks[-1].append(line)
        previous_was_row = is_row
    return blocks


def _documented_names() -> set[str]:
    (table,) = _table_blocks(_configuration_section())
    names: set[str] = set()
    for row in table[2:]:
        first_cell = row.split("|")[1]
        names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def _read_names() -> set[str]:
    devstack.run_options()
    return set(env.names)


def test_configuration_section_has_one_unbroken_table():
    blocks = _table_blocks(_configuration_section())

    assert len(blocks) == 1, [block[0] for block in blocks]
    assert blocks[0][0] == "| Variable | Default | Meaning |"


def test_every_variable_the_code_reads_is_in_readme_table():
    assert sorted(_read_names() - _documented_names()) == []


def test_readme_table_names_only_variables_the_code_reads():
    assert sorted(_documented_names() - _read_names()) == []


def test_apps_conf_modules_only_give_typed_access_to_settings_read_from_the_environment():
    conf_files = sorted(path for path in ROOT.glob("*/**/conf.py") if ".venv" not in path.parts)
    assert conf_files, "no conf.py found"
    read = _read_names()
    for path in conf_files:
        source = path.read_text()
        assert "getattr(" not in source, f"{path}: defaults belong in meauxcloud/settings.py"
        missing = sorted(set(re.findall(r"django_settings\.([A-Z][A-Z0-9_]*)", source)) - read)
        assert missing == [], f"{path.relative_to(ROOT)} reads settings not taken from the environment"
