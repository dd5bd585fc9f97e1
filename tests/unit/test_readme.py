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


SRC = Path(__file__).resolve().parents[2] / "src" / "anima"


def _architecture_tree() -> dict[str, str]:
    """``entry -> description`` of the README's architecture block (``src/anima/`` lines)."""
    block = README.split("## Architecture")[1].split("```")[1]
    entries: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        if line.startswith("  ") and not line.startswith("    ") and line.strip():
            name, _, description = line.strip().partition(" ")
            current = name
            entries[name] = description.strip()
        elif line.startswith("    ") and current is not None:  # a description continued
            entries[current] += " " + line.strip()
    return entries


def test_architecture_tree_names_every_module_and_package():
    tree = _architecture_tree()
    top = {p.name + ("/" if p.is_dir() else "") for p in SRC.iterdir()
           if not p.name.startswith(("_", ".")) and (p.is_dir() or p.suffix == ".py") and p.name != "py.typed"}
    top = {t for t in top if t != "__pycache__/"}
    missing = sorted(top - set(tree))
    assert not missing, f"the README's architecture tree misses: {missing}"
    gone = sorted(name for name in tree if not (SRC / name.rstrip("/")).exists())
    assert not gone, f"the README's architecture tree names what does not exist: {gone}"


def test_architecture_tree_names_every_file_of_each_package():
    tree = _architecture_tree()
    for name, description in tree.items():
        if not name.endswith("/") or name == "domains/":
            continue
        modules = sorted(p.stem for p in (SRC / name).glob("*.py") if p.stem != "__init__")
        unnamed = [m for m in modules if f"{m}.py" not in description and f"{m} " not in description + " "]
        assert not unnamed, f"README architecture, {name}: describe {unnamed}"
        named = {w[:-3] for w in description.replace(",", " ").replace("(", " ").replace(")", " ").split() if w.endswith(".py")}
        assert named <= set(modules), f"README architecture, {name}: no such files {sorted(named - set(modules))}"


def test_architecture_tree_names_every_domain():
    tree = _architecture_tree()
    domains = sorted(p.name for p in (SRC / "domains").iterdir() if p.is_dir() and not p.name.startswith("_"))
    text = tree.get("domains/", "")
    assert all(d in text for d in domains), f"README architecture, domains/: name {domains}"
