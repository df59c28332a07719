"""docs/plugin-reference.md is generated from the hook specifications' and handler bases' docstrings: the
committed file must be what docs/gen_plugin_reference.py writes now."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

GENERATOR = Path(__file__).parents[2] / "docs" / "gen_plugin_reference.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_plugin_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_plugin_reference_is_up_to_date(generator: ModuleType) -> None:
    assert generator.OUTPUT.read_text() == generator.render(), (
        "docs/plugin-reference.md is out of date: run python docs/gen_plugin_reference.py"
    )


def test_the_reference_documents_every_hook_and_the_abstract_methods_to_implement(
    generator: ModuleType,
) -> None:
    import roost.plugins.hookspecs
    import roost_core.plugins.hookspecs

    text = generator.render()
    for module in (roost_core.plugins.hookspecs, roost.plugins.hookspecs):
        hooks = [name for name in vars(module) if hasattr(getattr(module, name), f"{module.PROJECT}_spec")]
        assert hooks
        for hook in hooks:
            assert f"### `{hook}(register: " in text
    assert "- **`build_resource(ctx: ResourceContext) -> dict[str, Any]`** (abstract: implement it)" in text
    assert "- **`handle(ctx: TaskContext) -> Transition`**" in text


def test_check_fails_on_a_stale_reference(generator: ModuleType, tmp_path: Path, monkeypatch, capsys) -> None:
    stale = tmp_path / "plugin-reference.md"
    stale.write_text(generator.render().replace("Idempotent.", "Not idempotent."))
    monkeypatch.setattr(generator, "OUTPUT", stale)
    assert generator.main(["--check"]) == 1
    assert "is out of date: run python docs/gen_plugin_reference.py" in capsys.readouterr().err
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0
