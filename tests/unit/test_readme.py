"""The README documents every environment variable the settings read."""

from pathlib import Path

from anima.config import ENVIRONMENT

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_variable_is_in_the_readme_table():
    table = README.split("<!-- config-table:start -->")[1].split("<!-- config-table:end -->")[0]
    missing = [name for name in ENVIRONMENT if f"`{name}`" not in table]
    assert not missing, f"add these to the README configuration table: {missing}"


def test_quick_start_is_two_commands():
    block = README.split("## Quick start")[1].split("```sh")[1].split("```")[0]
    commands = [line for line in block.splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["python3 bootstrap.py demo", "python3 bootstrap.py test"]
