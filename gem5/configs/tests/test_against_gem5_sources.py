"""Check the fake gem5 modules and the parameter names against real gem5 sources.

The other tests run the configs against `fake_gem5`; this one keeps that fake
honest by reading the gem5 v24 Python sources (not importing them: they need
the compiled `_m5`). It is skipped where no gem5 checkout is found; point
GEM5_SRC at one (default /opt/gem5/src).
"""

import ast
import importlib
import inspect
import os
import unittest

import configs_path  # noqa: F401
import fake_gem5
import nemo_args
import run_nemo_bench
from sapphire_rapids import FP_ALU_MULT_OPS, SAPPHIRE_RAPIDS

GEM5_SRC = os.environ.get("GEM5_SRC", "/opt/gem5/src")
STDLIB = os.path.join(GEM5_SRC, "src", "python", "gem5")
HAVE_GEM5 = os.path.isdir(STDLIB)


def _name(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


class SourceIndex:
    """Every top-level class in gem5's Python sources, by name."""

    def __init__(self, root):
        self.classes = {}  # name -> [ast.ClassDef]
        self.modules = {}  # path relative to root -> ast.Module
        for dirpath, _dirs, files in os.walk(os.path.join(root, "src")):
            for f in files:
                if not f.endswith(".py"):
                    continue
                path = os.path.join(dirpath, f)
                try:
                    with open(path, encoding="utf-8") as fh:
                        tree = ast.parse(fh.read(), path)
                except (SyntaxError, UnicodeDecodeError):
                    continue  # templates and the like
                self.modules[os.path.relpath(path, root)] = tree
                for node in tree.body:
                    if isinstance(node, ast.ClassDef):
                        self.classes.setdefault(node.name, []).append(node)

    def lineage(self, name, seen=None):
        """The class definitions of `name` and all its ancestors."""
        seen = set() if seen is None else seen
        if name in seen:
            return []
        seen.add(name)
        out = []
        for cls in self.classes.get(name, []):
            out.append(cls)
            for base in cls.bases:
                if _name(base):
                    out.extend(self.lineage(_name(base), seen))
        return out

    def declared(self, name):
        """Names assigned at class level in `name` or its ancestors."""
        names = set()
        for cls in self.lineage(name):
            for node in cls.body:
                targets = []
                if isinstance(node, ast.Assign):
                    targets = node.targets
                elif isinstance(node, ast.AnnAssign):
                    targets = [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
        return names

    def method(self, class_name, method):
        for cls in self.lineage(class_name):
            for node in cls.body:
                if isinstance(node, ast.FunctionDef) and node.name == method:
                    return node
        return None

    def function(self, module_path, name):
        for node in self.modules[module_path].body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
        return None

    def class_body_value(self, class_name, attr):
        for cls in self.classes.get(class_name, []):
            for node in cls.body:
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == attr for t in node.targets
                ):
                    return node.value
        return None


def _params(fn_node):
    a = fn_node.args
    return [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]


@unittest.skipUnless(HAVE_GEM5, f"no gem5 sources at {GEM5_SRC} (set GEM5_SRC)")
class AgainstGem5Sources(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.index = SourceIndex(GEM5_SRC)

    def read(self, rel):
        with open(os.path.join(GEM5_SRC, rel), encoding="utf-8") as f:
            return f.read()

    def test_fake_simobjects_exist_with_their_parameters_and_ports(self):
        with fake_gem5.installed() as objects:
            fakes = {
                n: c
                for n, c in vars(objects).items()
                if isinstance(c, type) and issubclass(c, fake_gem5.SimObject)
            }
        self.assertIn("X86O3CPU", fakes)
        for name, cls in fakes.items():
            with self.subTest(simobject=name):
                self.assertIn(name, self.index.classes)
                declared = self.index.declared(name)
                missing = set(cls.PARAMS + cls.PORTS) - declared
                self.assertEqual(missing, set())

    def test_op_classes_exist(self):
        vals = self.index.class_body_value("OpClass", "vals")
        known = {e.value for e in vals.elts}
        for unit in SAPPHIRE_RAPIDS.core.functional_units:
            for op in unit.ops:
                self.assertIn(op.op_class, known)

    def stock_ops(self, fu_class):
        """{op class: (latency, pipelined)} of a stock gem5 FUDesc class."""
        ops = {}
        for cls in self.index.lineage(fu_class):
            for node in cls.body:
                if (
                    isinstance(node, ast.Assign)
                    and _name(node.targets[0]) == "opList"
                    and not ops
                ):
                    for call in node.value.elts:
                        kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
                        ops[kw["opClass"]] = (
                            kw.get("opLat", 1),
                            kw.get("pipelined", True),
                        )
        return ops

    def test_fp_unit_copies_gem5_fp_latencies(self):
        stock = {}
        stock.update(self.stock_ops("FP_ALU"))
        stock.update(self.stock_ops("FP_MultDiv"))
        ours = {op.op_class: (op.latency, op.pipelined) for op in FP_ALU_MULT_OPS}
        self.assertEqual(ours, stock)

    def test_units_cover_every_op_class_gem5_gives_x86(self):
        fu_list = self.index.class_body_value("DefaultX86FUPool", "FUList")
        default = set()
        for call in fu_list.elts:
            default.update(self.stock_ops(_name(call.func)))
        ours = set()
        for unit in SAPPHIRE_RAPIDS.core.functional_units:
            if unit.gem5_class:
                ours.update(self.stock_ops(unit.gem5_class))
            ours.update(op.op_class for op in unit.ops)
        # SVE predicate ops: gem5's x86 decoder never emits them.
        self.assertEqual(default - ours, {"SimdPredAlu"})

    def assertSignatureFits(self, fake, real_node, what):
        """Each fake parameter exists in the real one, at the same position."""
        self.assertIsNotNone(real_node, what)
        real = _params(real_node)
        for pos, p in enumerate(inspect.signature(fake).parameters.values()):
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            with self.subTest(what=what, parameter=p.name):
                self.assertIn(p.name, real)
                if p.kind is not p.KEYWORD_ONLY:
                    self.assertEqual(real.index(p.name), pos)

    def test_stdlib_signatures(self):
        idx = self.index
        f = fake_gem5
        methods = [
            (f.SimpleBoard.__init__, "SimpleBoard", "__init__"),
            (f.SimpleBoard.set_se_binary_workload, "SEBinaryWorkload", "set_se_binary_workload"),
            (f.SimpleBoard.get_processor, "AbstractBoard", "get_processor"),
            (f.SimpleBoard.get_memory, "AbstractBoard", "get_memory"),
            (f.SimpleBoard.get_cache_hierarchy, "AbstractBoard", "get_cache_hierarchy"),
            (f.SimpleBoard.connect_system_port, "AbstractBoard", "connect_system_port"),
            (f.SimpleBoard._pre_instantiate, "AbstractBoard", "_pre_instantiate"),
            (f.BaseCPUCore.__init__, "BaseCPUCore", "__init__"),
            (f.BaseCPUCore.get_simobject, "BaseCPUCore", "get_simobject"),
            (f.BaseCPUCore.get_isa, "BaseCPUCore", "get_isa"),
            (f.BaseCPUCore.connect_icache, "BaseCPUCore", "connect_icache"),
            (f.BaseCPUCore.connect_dcache, "BaseCPUCore", "connect_dcache"),
            (f.BaseCPUCore.connect_walker_ports, "BaseCPUCore", "connect_walker_ports"),
            (f.BaseCPUCore.connect_interrupt, "BaseCPUCore", "connect_interrupt"),
            (f.BaseCPUProcessor.__init__, "BaseCPUProcessor", "__init__"),
            (f.BaseCPUProcessor.get_cores, "AbstractProcessor", "get_cores"),
            (f.BaseCPUProcessor.get_num_cores, "AbstractProcessor", "get_num_cores"),
            (f.BaseCPUProcessor.incorporate_processor, "BaseCPUProcessor", "incorporate_processor"),
            (f.FakeMemory.get_mem_ports, "AbstractMemorySystem", "get_mem_ports"),
            (f.FakeMemory.incorporate_memory, "AbstractMemorySystem", "incorporate_memory"),
            (f.BinaryResource.__init__, "BinaryResource", "__init__"),
            (f.BinaryResource.get_local_path, "BinaryResource", "get_local_path"),
            (f.Simulator.__init__, "Simulator", "__init__"),
            (f.Simulator.run, "Simulator", "run"),
            (f.Simulator.get_last_exit_event_cause, "Simulator", "get_last_exit_event_cause"),
            (f.Simulator.get_last_exit_event_code, "Simulator", "get_last_exit_event_code"),
            (f.Simulator.get_current_tick, "Simulator", "get_current_tick"),
        ]  # fmt: skip
        for fake, cls, name in methods:
            self.assertSignatureFits(fake, idx.method(cls, name), f"{cls}.{name}")
        functions = [
            (f.requires, "src/python/gem5/utils/requires.py", "requires"),
            (
                f.DIMM_DDR5_4400,
                "src/python/gem5/components/memory/single_channel.py",
                "DIMM_DDR5_4400",
            ),
        ]
        for fake, path, name in functions:
            self.assertSignatureFits(fake, idx.function(path, name), name)

    def test_isa_enum(self):
        text = self.read("src/python/gem5/isas.py")
        self.assertIn(f'X86 = "{fake_gem5.ISA.X86.value}"', text)

    def test_memory_model_is_exported(self):
        tree = self.index.modules["src/python/gem5/components/memory/__init__.py"]
        exported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        self.assertIn(SAPPHIRE_RAPIDS.memory.model, exported)

    def test_cache_hierarchy_implements_the_abstract_methods(self):
        abstract, concrete = set(), set()
        for cls in self.index.lineage("AbstractClassicCacheHierarchy"):
            for node in cls.body:
                if isinstance(node, ast.FunctionDef):
                    if any(_name(d) == "abstractmethod" for d in node.decorator_list):
                        abstract.add(node.name)
                    else:
                        concrete.add(node.name)
        self.assertIn("incorporate_cache", abstract)
        with fake_gem5.installed():
            hierarchy = importlib.import_module("spr_cache_hierarchy")
            ours = vars(hierarchy.SapphireRapidsCacheHierarchy)
            for name in abstract - concrete:
                self.assertIn(name, ours)

    def test_exit_causes_and_tick_rate(self):
        events = self.read("src/python/gem5/simulate/exit_event.py")
        for cause in (
            run_nemo_bench.CAUSE_PROCESS_EXITED,
            run_nemo_bench.CAUSE_TICK_LIMIT,
        ):
            self.assertIn(f'"{cause}"', events)
        self.assertIn("_ticksPerSecond = 1e12;", self.read("src/sim/core.cc"))
        self.assertEqual(nemo_args.TICKS_PER_SECOND, 10**12)

    def test_entry_point_name(self):
        # gem5 runs the script under this name; the guard must match.
        self.assertIn('"__name__": "__m5_main__"', self.read("src/python/m5/main.py"))
        with open(run_nemo_bench.__file__, encoding="utf-8") as f:
            self.assertIn('if __name__ == "__m5_main__":', f.read())


if __name__ == "__main__":
    unittest.main()
