"""The notebooks: stored without outputs (enforced here), and each one run top to bottom in a
fresh kernel on the CPU in smoke mode (a few training steps), failing on any cell's error.

Every notebook runs in the fast suite: smoke mode keeps each one to seconds of compute (most of
it jax compilations), all of them together well inside CI's 10-minute notebook budget."""

import json
import pathlib
import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


def test_every_theorem_has_a_notebook():
  assert {"flip_flop", "bounded_dyck", "parity", "star_free", "word_problems"} <= set(NAMES)


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
  code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
  assert code.count("ssm_expressivity.git") == 1, "the repository URL lives in REPO_URL only"
  json.loads(path.read_text())  # plain JSON, as Colab and GitHub read it


@pytest.mark.parametrize("name", NAMES)
def test_setup_outside_a_checkout_names_the_placeholder(name, tmp_path):
  """On Colab (no checkout around) with REPO_URL left at its placeholder, the setup cell stops
  with a message saying what to set, before any pip install."""
  setup = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells[1].source
  done = subprocess.run([sys.executable, "-c", setup], cwd=tmp_path, capture_output=True,
                        text=True, timeout=120)
  assert done.returncode != 0
  assert "RuntimeError: No checkout of ssm_expressivity here" in done.stderr
  assert "Set REPO_URL" in done.stderr and "OWNER" in done.stderr
  assert "pip" not in done.stderr.split("RuntimeError")[0]  # nothing was installed first


@pytest.mark.parametrize("name", NAMES)
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
