"""The README's Python examples run as written, and its figure's script draws it from the examples."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_blocks_run(monkeypatch):
    """Every ```python block of README.md, in order, in one namespace, from the repository root."""
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["ness"].mode == "engine"
    assert namespace["ness"].efficiency == pytest.approx(2 / 3)  # 1 - w_c/w_h, as the comment says
    assert namespace["result"].efficiency == pytest.approx(0.5)
    assert namespace["sweep"].path == "batch"


def test_readme_figure_script_draws_both_engines(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_figures", ROOT / "docs" / "figures" / "make_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = module.main(tmp_path / "figure.png")
    assert path.stat().st_size > 10_000
    assert "docs/figures/efficiency_power.png" in (ROOT / "README.md").read_text()
