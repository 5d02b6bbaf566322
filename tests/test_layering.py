"""The package's floors: core < nn < tagging < training < the command line (cli, bench, the
package's own __init__). No module imports from a floor above its own, and no import cycle
(function-level imports included), so tagging never pulls in training."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "polytag"
FLOORS = {"core": 0, "nn": 1, "tagging": 2, "training": 3}
TOP = 4  # polytag/__init__.py, cli.py, bench.py


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS.get(parts[1], TOP) if len(parts) > 1 else TOP


def imports(path: Path) -> set[str]:
    """Every polytag module that `path` imports, at any depth of the code."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "polytag":
                continue
            # `from .pkg import module` imports the submodule
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists() else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "polytag")
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_no_module_imports_from_a_higher_floor():
    upward = [f"{src} (floor {floor(src)}) imports {dst} (floor {floor(dst)})"
              for src, targets in import_graph().items() for dst in targets if floor(dst) > floor(src)]
    assert not upward, "\n".join(upward)


def find_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Import cycles, as "a -> b -> a"; a package's __init__ that re-exports its own submodules
    is not a cycle through them."""
    edges = {src: {d for d in dsts if not src.startswith(d + ".") and d in graph} for src, dsts in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    return cycles


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "\n".join(cycles)


def test_a_cycle_is_found():
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p": {"p.a"}, "p.d": {"p.a"}}
    assert find_cycles(graph) == ["p.a -> p.b -> p.c -> p.a"]


def test_the_layering_test_sees_an_upward_import(tmp_path, monkeypatch):
    """The walker itself: a core module importing training is caught."""
    fake = tmp_path / "polytag"
    (fake / "core").mkdir(parents=True)
    (fake / "training").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "core" / "__init__.py").write_text("")
    (fake / "training" / "__init__.py").write_text("")
    (fake / "training" / "loop.py").write_text("from ..core import x\n")
    (fake / "core" / "x.py").write_text("def f():\n    from ..training.loop import y\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    graph = import_graph()
    assert graph["polytag.core.x"] == {"polytag.training.loop"}
    assert floor("polytag.training.loop") > floor("polytag.core.x")


# the ONNX path: polytag.core and polytag.tagging with torch and transformers unimportable
NO_TORCH = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Block())
import polytag
import polytag.core
from polytag.tagging import load

tagger = load(polytag.DEFAULT_MODEL, backend="onnx", threads=1)
print(tagger.tag([["Das", "ist", "gut", "."]]))
assert not any(m.split(".")[0] in ("torch", "transformers") for m in sys.modules)
"""


def test_tagging_with_the_shipped_model_needs_no_torch():
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    done = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "'upos': 'AUX'" in done.stdout and "'form': 'gut'" in done.stdout
