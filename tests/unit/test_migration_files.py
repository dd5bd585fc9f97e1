"""Migration files sort in the order they apply: ``NNNN_`` prefixes follow the revision chain."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "migrations"


def _revisions(side: str) -> dict[str, tuple[str, str | None]]:
    """file name -> (revision, down_revision), read from the files' module-level assignments."""
    out: dict[str, tuple[str, str | None]] = {}
    for file in (ROOT / side / "versions").glob("*.py"):
        values: dict[str, object] = {}
        for node in ast.parse(file.read_text()).body:
            if isinstance(node, ast.AnnAssign | ast.Assign):
                target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value is not None:
                    values[target.id] = ast.literal_eval(node.value)
        out[file.name] = (values["revision"], values.get("down_revision"))  # type: ignore[assignment]
    return out


@pytest.mark.parametrize("side", ["platform", "tenant"])
def test_files_sort_in_apply_order(side: str) -> None:
    revisions = _revisions(side)
    assert revisions, f"no {side} migrations found"
    assert all(re.match(r"^\d{4}_[a-z0-9_]+\.py$", name) for name in revisions), sorted(revisions)
    chain: list[str] = []
    by_down = {down: name for name, (_, down) in revisions.items()}
    current = None
    while current in by_down:
        name = by_down[current]
        chain.append(name)
        current = revisions[name][0]
    assert len(chain) == len(revisions), "the revisions do not form one chain"
    assert chain == sorted(revisions), f"files sort {sorted(revisions)} but apply {chain}"


def test_ordered_name_takes_the_next_number(tmp_path: pathlib.Path) -> None:
    from anima.tenancy.autogenerate import ordered_name

    (tmp_path / "0001_initial.py").write_text("")
    (tmp_path / "0002_billing.py").write_text("")
    new = tmp_path / "3f2a9c1d7e00_add_consent.py"
    new.write_text("x")
    renamed = pathlib.Path(ordered_name(str(new)))
    assert renamed.name == "0003_add_consent.py" and renamed.read_text() == "x" and not new.exists()
