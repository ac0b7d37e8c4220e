"""Which code produced a result: git revision of the checkout, "unknown" outside git."""

from __future__ import annotations

import re

from hbench.harness import provenance


def test_revision_of_this_checkout_or_none():
    info = provenance.git_info()
    if info["revision"] is None:  # installed outside a git checkout
        assert info["dirty"] is None and provenance.code_revision() == "unknown"
    else:
        assert re.fullmatch(r"[0-9a-f]{40}", info["revision"])
        assert provenance.code_revision() == info["revision"]


def test_outside_git_is_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "ROOT", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert provenance.git_info() == {"revision": None, "dirty": None}
    assert provenance.code_revision() == "unknown"
