"""The apps' layers hold: `make test` runs lint-imports, and it fails on a wrong import."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
APPS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree)
    for app in APPS:
        shutil.copytree(ROOT / app, tree / app, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def test_the_tree_keeps_its_layers(tmp_path):
    result = lint(copy_of_the_tree(tmp_path))
    assert result.returncode == 0, result.stdout


def test_a_lower_app_importing_a_higher_one_fails_the_build(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    # sessions reaching up to the stream's actions: the cycle this layout removed.
    with (tree / "sessions" / "models.py").open("a") as models:
        models.write("\nfrom entries import actions  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0
    assert "sessions.models -> entries.actions" in result.stdout


def test_a_leaf_helper_importing_an_app_fails_the_build(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    with (tree / "liveblog" / "ratelimit.py").open("a") as helper:
        helper.write("\nfrom sessions.models import Session  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0
    assert "liveblog.ratelimit -> sessions.models" in result.stdout
