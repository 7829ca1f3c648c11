"""The package's shape: one subpackage per layer, no import pointing up a layer, no import cycle, and
imports at the top of modules (a deferred one says why in a comment). Read from the source with ast."""
import ast
from pathlib import Path

import pytest

import qd

PACKAGE = Path(qd.__file__).parent
# layer of each top-level part; a module may import only from a lower layer or its own subpackage
LAYERS = {"errors": 0, "atomic": 0, "paths": 0, "cli": 0, "checks": 0, "": 0, "data": 1, "models": 2, "training": 3, "app": 3, "report": 4}


def _modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        parts = p.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


MODULES = _modules()


def _target(name: str, level_base: str | None = None) -> str:
    """The qd module an import names (`from qd.data import bitmaps` names qd.data.bitmaps)."""
    return name if name in MODULES else name.rsplit(".", 1)[0]


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported qd module, line, at module level) for every import of a qd module in the file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names]
        for n in names:
            if n == "qd" or n.startswith("qd."):
                out.append((_target(n), node.lineno, id(node) in top))
    return out


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_is_in_a_layer():
    assert {_part(m) for m in MODULES} <= set(LAYERS)


def against_layers(imports: dict[str, list[tuple[str, int]]]) -> list[str]:
    """'module:line imports target' for every import into a higher layer or a sibling subpackage."""
    bad = []
    for m, targets in imports.items():
        for target, line in targets:
            a, b = _part(m), _part(target)
            if LAYERS[b] > LAYERS[a] or (LAYERS[b] == LAYERS[a] and a != b and LAYERS[a] > 0):
                bad.append(f"{m}:{line} imports {target}")
    return bad


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph (a list of modules, first == last), or None."""
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if not state.get(t):
                found = visit(t, stack + [t])
                if found:
                    return found
        state[m] = 2
        return None

    for m in sorted(graph):
        if not state.get(m):
            found = visit(m, [m])
            if found:
                return found
    return None


IMPORTS = {m: [(t, line) for t, line, _ in _imports(p)] for m, p in MODULES.items()}


def test_no_import_points_up_a_layer_or_across_to_a_sibling():
    bad = against_layers(IMPORTS)
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_the_app_never_imports_training_or_report():
    assert not [t for m, ts in IMPORTS.items() if _part(m) == "app" for t, _ in ts if _part(t) in ("training", "report")]


def test_no_import_cycle():
    assert find_cycle({m: {t for t, _ in ts if t != m} for m, ts in IMPORTS.items()}) is None


def test_the_checks_catch_what_they_look_for():
    assert against_layers({"qd.data.x": [("qd.report.html", 3)]}) == ["qd.data.x:3 imports qd.report.html"]
    assert against_layers({"qd.app.x": [("qd.training.loop", 1)]}) == ["qd.app.x:1 imports qd.training.loop"]
    assert against_layers({"qd.report.x": [("qd.app.demo", 1), ("qd.data.render", 2)]}) == []
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_imports_are_at_the_top_or_say_why_not():
    lines_of = {}
    bad = []
    for m, path in MODULES.items():
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body} | {id(n) for t in tree.body if isinstance(t, ast.Try) for n in t.body}
        lines_of[m] = path.read_text().splitlines()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                before = lines_of[m][node.lineno - 2].strip()
                if not before.startswith("#"):
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not bad, "imports inside functions without a comment saying why:\n" + "\n".join(bad)


@pytest.mark.parametrize("sub", ["data", "models", "training", "app", "report"])
def test_each_layer_says_what_lives_there_and_what_it_may_import(sub):
    doc = ast.get_docstring(ast.parse((PACKAGE / sub / "__init__.py").read_text()))
    assert doc and "May import" in doc
    listed = {line.split()[0] for line in doc.splitlines() if line.startswith("  ") and not line.startswith("   ")}
    on_disk = {p.stem for p in (PACKAGE / sub).glob("*.py") if p.stem != "__init__"}
    assert listed == on_disk, f"qd.{sub}'s docstring lists {sorted(listed)}, the folder has {sorted(on_disk)}"
