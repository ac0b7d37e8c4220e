"""The ``viescore`` parsing policy against VIEScore's own parser from the vendored snapshot."""

from __future__ import annotations

import ast
import json
import os
import random
from pathlib import Path

import pytest

from hbench.tasks.gedit.viescore_lenient import parse_lenient, usable_scores

REPO = Path(__file__).resolve().parents[3]
VENDOR = Path(
    os.environ.get("HBENCH_BAGEL_VENDOR", REPO.parent / "shared" / "vendor" / "bagel-056b5fd")
)
UTILS = VENDOR / "eval/gen/gedit/viescore/utils.py"
pytestmark = pytest.mark.skipif(not UTILS.is_file(), reason=f"BAGEL snapshot not at {VENDOR}")

PIECES = ["||V^=^V||", "{", "}", "[", "]", '"score"', "score", ":", ",", " ", "\n", "7", "10",
          "3.5", "-1", "11", "[6, 0]", "[6,0]", '"reasoning": "ok"', "reasoning", "true", "null",
          "'", "abc", "Score: 8", "{score: 5}", '{"score": 4}', '{"score": [2, 9]}', "0", " 5 "]  # fmt: skip


def crafted(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    fixed = ["", "7", " 7 ", "11", "[6, 0]", "[6,0]", "[6,  0]", '{"score": [7, 3]}',
             '||V^=^V||{"score": [7, 3], "reasoning": "x"}||V^=^V||', "||V^=^V||||V^=^V||",
             "{score: 5, reasoning: good}", '{"score": 5}', "} {", "rate limited", "[1, 2, 3]",
             '{"score": "high"}', "{'score': [1, 2]}", '{"score": [\\n4, 5]}']  # fmt: skip
    out = list(fixed)
    while len(out) < n:
        out.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 7))))
    return out


@pytest.fixture(scope="module")
def official_parser():
    pytest.importorskip("regex")
    import regex

    tree = ast.parse(UTILS.read_text(encoding="utf-8"))
    keep = {"fix_json", "verify", "is_int_between_0_and_10", "mllm_output_to_dict"}
    body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in keep]
    ns: dict = {"re": regex, "json": json, "ast": ast, "print": lambda *a, **k: None}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(UTILS), "exec"), ns)  # noqa: S102
    return ns


def test_lenient_parsing_matches_viescore_on_600_answers(official_parser):
    for text in crafted(600):
        for give_up in (False, True):
            seed = len(text)
            official_parser["random"] = random.Random(seed)  # the guess, drawn identically
            theirs = official_parser["mllm_output_to_dict"](text, give_up_parsing=give_up)
            ours = parse_lenient(text, give_up, random.Random(seed))
            if theirs is False:
                assert ours is None, (text, give_up)
            else:
                want = theirs.get("score") if isinstance(theirs, dict) else None
                got = ours.get("score") if isinstance(ours, dict) else None
                assert got == want, (text, give_up, theirs, ours)
                assert usable_scores(ours) == usable_scores(theirs)


def test_usable_scores_take_whatever_numbers_came():
    assert usable_scores({"score": [9, 4, 7]}) == [9.0, 4.0, 7.0]  # min over three is fine
    assert usable_scores({"score": []}) is None and usable_scores({"reasoning": "x"}) is None
    assert usable_scores({"score": ["high"]}) is None and usable_scores(None) is None
