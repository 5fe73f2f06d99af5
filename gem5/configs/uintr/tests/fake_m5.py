"""A minimal stand-in for gem5's `m5` module, enough for uintr_system.py.

Like gem5, a SimObject refuses parameters it does not declare; the declared
names are those of gem5 v24.0.0.1 and of gem5/uintr/UintrModel.py (a test
reads the latter from the file).
"""

import sys
import types


class SimObject:
    PARAMS = ()

    def __init__(self, **params):
        for name, value in params.items():
            setattr(self, name, value)

    def __setattr__(self, name, value):
        if name.startswith("_") or name in type(self).PARAMS or isinstance(
            value, SimObject
        ):
            object.__setattr__(self, name, value)
        else:
            raise AttributeError(f"{type(self).__name__} has no parameter {name}")


def _simobject(name, params):
    return type(name, (SimObject,), {"PARAMS": tuple(params)})


OpDesc = _simobject("OpDesc", ("opClass", "opLat", "pipelined"))
FUDesc = _simobject("FUDesc", ("count", "opList"))
FUPool = _simobject("FUPool", ("FUList",))
RedirectPath = _simobject("RedirectPath", ("app_path", "host_paths"))


class X86ISA(SimObject):
    PARAMS = ("ExtendedFeatures",)

    def __init__(self, **params):
        self.ExtendedFeatures = [0x0, 0x01800000, 0x0, 0x0]
        super().__init__(**params)


class IprPort(FUDesc):
    def __init__(self, **params):
        super().__init__(**params)
        self.opList = [OpDesc(opClass="IprAccess", opLat=3, pipelined=False)]


class IntALU(FUDesc):
    def __init__(self, **params):
        super().__init__(**params)
        self.opList = [OpDesc(opClass="IntAlu")]


class X86O3CPU(SimObject):
    PARAMS = ("fuPool", "isa")

    def __init__(self):
        super().__init__()
        self.isa = [X86ISA()]
        self.fuPool = FUPool(FUList=[IntALU(count=6), IprPort(count=1)])


class X86AtomicSimpleCPU(SimObject):
    PARAMS = ("isa",)

    def __init__(self):
        super().__init__()
        self.isa = [X86ISA()]


UintrModel = None  # filled by install() from UintrModel.py's parameters


class Core:
    def __init__(self, cpu):
        self.core = cpu


class Processor:
    def __init__(self, cpus):
        self.cores = [Core(c) for c in cpus]

    def get_cores(self):
        return self.cores


class Board(SimObject):
    PARAMS = ("redirect_paths",)

    def __init__(self, cpus):
        super().__init__()
        self.redirect_paths = []
        self._processor = Processor(cpus)

    def get_processor(self):
        return self._processor


def install(outdir, uintr_params):
    """Make `import m5` and `from m5.objects import ...` use this module."""
    global UintrModel
    UintrModel = _simobject("UintrModel", uintr_params)
    m5 = types.ModuleType("m5")
    m5.options = types.SimpleNamespace(outdir=outdir)
    objects = types.ModuleType("m5.objects")
    for name in ("OpDesc", "FUDesc", "RedirectPath", "UintrModel"):
        setattr(objects, name, globals()[name])
    m5.objects = objects
    sys.modules["m5"] = m5
    sys.modules["m5.objects"] = objects


def uninstall():
    for name in ("m5", "m5.objects", "uintr_system"):
        sys.modules.pop(name, None)
