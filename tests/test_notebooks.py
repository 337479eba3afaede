"""Every notebook (jupytext percent format) executes on the smoke profile."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))


def test_notebooks_exist() -> None:
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setenv("TPC_INTERP_PROFILE", "smoke")
    monkeypatch.setenv("TPC_INTERP_WORKDIR", str(tmp_path))
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    nb = jupytext.read(path)
    # a last cell reports which profile the notebook's own code picked up
    nb.cells.append(
        nbformat.v4.new_code_cell(
            'print("profile seen:", globals().get("PROFILE") or '
            '("smoke" if globals().get("SMOKE") else "not smoke"))'
        )
    )
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, errors
    seen = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))
    assert "profile seen: smoke" in seen, seen  # the notebook ran small, not its default
