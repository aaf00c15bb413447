"""Every rule of the catalogue shipped in docs/rules.md is enforced and proven.

Enforced: the rule ID appears in a diagram's <bpmn:documentation> under processes/, or in engine/
or handlers/ code (a docstring, a comment, the sentence a refusal shows). Proven: a test function
under tests/ carries the ID in its name (REV-3 → test_rev_3_…) or its docstring. A rule marked
(manual) in the catalogue records a declaration instead and needs a test only.

Every section is built; a rule listed in PENDING_SECTIONS or PENDING_RULES (none now) would be
reported as an expected failure naming that reason until it is covered.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
RULES = dict(re.findall(r"^- \*\*([A-Z]{2,4}-\d+)\*\*(.*)$", CATALOGUE, flags=re.MULTILINE))
PENDING_SECTIONS: set[str] = set()
PENDING_RULES: set[str] = set()
SECTIONS = "|".join(sorted({rule.split("-")[0].lower() for rule in RULES}))


def _pending(rule: str) -> bool:
    return rule.split("-")[0] in PENDING_SECTIONS or rule in PENDING_RULES


def _ids(text: str) -> set[str]:
    return set(re.findall(r"\b([A-Z]{2,4}-\d+)\b", text))


def _enforced() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "processes").glob("*.bpmn"):
        for doc in re.findall(r"<bpmn:documentation>(.*?)</bpmn:documentation>", path.read_text(encoding="utf-8"), re.S):
            found |= _ids(doc)
    for package in ("engine", "handlers"):
        for path in (ROOT / package).rglob("*.py"):
            found |= _ids(path.read_text(encoding="utf-8"))
    return found


def _proven() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                named = re.findall(rf"_((?:{SECTIONS})_\d+)(?=_|$)", node.name)
                found |= {m.upper().replace("_", "-") for m in named}
                found |= _ids(ast.get_docstring(node) or "")
    return found


ENFORCED, PROVEN = _enforced(), _proven()


def test_the_catalogue_is_the_full_one():
    assert len(RULES) >= 70 and {"OPEN-1", "OFF-5", "DEC-7", "REV-18", "PEN-2"} <= set(RULES)


@pytest.mark.parametrize("rule", sorted(RULES, key=lambda r: (r.split("-")[0], int(r.split("-")[1]))))
def test_each_rule_is_enforced_and_proven(rule):
    manual = "(manual)" in RULES[rule]
    missing = [what for what, ok in (("an enforcing diagram element or engine code", manual or rule in ENFORCED),
                                     ("a test named after it", rule in PROVEN)) if not ok]
    if missing and _pending(rule):
        pytest.xfail(f"{rule} belongs to the content-and-operations issue, not built yet")
    assert not missing, f"{rule} has no {' and no '.join(missing)}"
