"""The names ``roost`` exports stay what they are, whatever was imported before."""

import importlib.util

import roost


def test_no_submodule_of_roost_shadows_a_name_it_exports():
    # Importing roost.X sets the package's attribute X to the module, hiding a lazily exported X for good.
    shadowed = [name for name in roost.__all__ if importlib.util.find_spec(f"roost.{name}") is not None]
    assert shadowed == []


def test_eager_is_the_decorator_after_the_local_runner_is_imported():
    import roost.local.runner  # noqa: F401  (imports the eager machinery)
    from roost import eager

    assert callable(eager) and eager.__module__ == "roost.eager_workflows"
