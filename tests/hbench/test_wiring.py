"""The face wires the layers into the core: built-in plugins and the kernel backend."""

from __future__ import annotations

import pytest

from hbench.builtin_plugins import BUILTINS
from hbench.harness import kernel_backend, plugins


def test_every_builtin_is_registered_in_the_core_with_its_help():
    for registry, name, target, help_text in BUILTINS:
        reg = getattr(plugins, registry)
        assert name in reg, (registry, name)
        assert reg.help(name) == help_text
        assert target.startswith("hbench.") and ":" in target


def test_the_core_registries_are_the_ones_listed():
    assert set(plugins.ALL.values()) == {getattr(plugins, r) for r, *_ in BUILTINS}
    assert not hasattr(plugins, "PROMPT_SOURCES")  # removed: nothing ever registered one


def test_the_runner_reaches_the_kernel_dispatch_the_face_wired():
    from hbench.kernels import dispatch

    assert kernel_backend.dispatch() is dispatch


def test_an_unwired_kernel_backend_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(kernel_backend, "_resolve", None)
    with pytest.raises(RuntimeError, match="no kernel backend is wired"):
        kernel_backend.dispatch()
