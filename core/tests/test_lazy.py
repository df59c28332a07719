import sys
import types

import pytest

from roost_core.lazy import lazy_exports


@pytest.fixture
def package(monkeypatch):
    module = types.ModuleType("lazy_probe_package")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    module.__getattr__ = lazy_exports(  # type: ignore[method-assign]
        module.__name__, {"dumps": "json", "Decoder": "json:JSONDecoder"}
    )
    return module


def test_a_name_is_imported_from_its_module_on_first_use_and_kept(package):
    import json

    assert "dumps" not in vars(package)
    assert package.dumps is json.dumps
    assert vars(package)["dumps"] is json.dumps


def test_a_renamed_export_takes_the_attribute_after_the_colon(package):
    import json

    assert package.Decoder is json.JSONDecoder


def test_an_unknown_name_is_an_attribute_error_naming_the_package(package):
    with pytest.raises(AttributeError, match=r"^module 'lazy_probe_package' has no attribute 'Nope'$"):
        package.Nope  # noqa: B018
