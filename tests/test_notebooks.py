"""The notebooks: stored without outputs (enforced here), and each one run top to bottom in a
fresh kernel on the CPU in smoke mode (a few training steps), failing on any cell's error."""

import json
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
# Training notebooks take over a minute on two cores; the construction ones seconds.
SLOW = {"flip_flop", "bounded_dyck"}
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


def test_every_theorem_has_a_notebook():
  assert {"flip_flop", "bounded_dyck", "parity", "star_free"} <= set(NAMES)
  assert len(set(NAMES) - SLOW) >= 2  # at least two run in the fast suite


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs_with_badge_and_setup(name):
  path = NOTEBOOKS / f"{name}.ipynb"
  notebook = nbformat.read(path, as_version=4)
  nbformat.validate(notebook)
  for cell in notebook.cells:
    if cell.cell_type == "code":
      assert cell.outputs == [] and cell.execution_count is None, (
          f"{path} holds outputs: clear them (Kernel > Restart & Clear Output) before committing")
  first = notebook.cells[0]
  assert first.cell_type == "markdown"
  assert "colab-badge.svg" in first.source and f"notebooks/{name}.ipynb" in first.source
  setup = notebook.cells[1].source
  assert "REPO_URL = " in setup and "jax.default_backend()" in setup and "TIER = " in setup
  json.loads(path.read_text())  # plain JSON, as Colab and GitHub read it


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in NAMES])
def test_notebook_executes(name, tmp_path, monkeypatch):
  monkeypatch.setenv("SSM_NOTEBOOK_SMOKE", "1")
  monkeypatch.setenv("SSM_NOTEBOOK_WORKDIR", str(tmp_path))
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")
  notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
  client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                   resources={"metadata": {"path": str(NOTEBOOKS)}})
  client.execute()  # raises CellExecutionError on the first failing cell
  images = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
            if "image/png" in o.get("data", {})]
  assert images, "the notebook drew no figure"
  setup_text = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
  assert "tier quick" in setup_text and "smoke True" in setup_text
