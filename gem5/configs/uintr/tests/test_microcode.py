"""The patch's delivery and UIRET micro-code, executed.

A small interpreter for the micro-ops the two routines use (with gem5's
semantics: `wrflags a, b` writes a ^ b, `mov d, a, b` writes b, a
condition nCEZF holds when neither ECF nor EZF is set) runs `uintrDeliver`
(romutil.py) and then `UIRET` (interrupts_and_exceptions.py) as the patch
has them: a delivery followed by the handler's `add rsp, 8` and UIRET must
restore RIP, RSP and the RFLAGS bits of the SDM's mask, keep the others,
and set UIF; the mask must be core/structures.hh's.
"""

import os
import re
import unittest

import uintr_path  # noqa: F401

UINTR = os.path.join(uintr_path.REPO_DIR, "gem5", "uintr")
PATCH = os.path.join(UINTR, "gem5-v24.0.0.1-uintr.patch")


def core_mask():
    with open(os.path.join(UINTR, "core", "structures.hh")) as f:
        return int(re.search(r"uiretFlagMask = (0x[0-9a-f]+)ULL", f.read()).group(1), 16)


def routine(start, end_marker="};"):
    """The added lines of one micro-code routine in the patch."""
    with open(PATCH) as f:
        lines = [line[1:] for line in f.read().splitlines() if line.startswith("+")]
    text = "\n".join(lines)
    body = text[text.index(start):]
    body = body[:body.index(end_marker)]
    ops = []
    for line in body.splitlines()[1:]:
        line = line.split("#")[0].strip()
        if line and not line.endswith(":") and not line.startswith(("{", "def ")):
            ops.append(line)
    return ops


class Machine:
    MASK64 = (1 << 64) - 1

    def __init__(self, regs, misc, rflags, rip):
        self.r = dict(regs, t0=0)
        self.misc = dict(misc)
        self.rflags = rflags
        self.rip = rip
        self.mem = {}
        self.ezf = self.ecf = False
        self.done = False

    def val(self, tok):
        tok = tok.strip().strip('"')
        if tok in self.r:
            return self.r[tok]
        tok = tok.replace("ULL", "")
        if tok.startswith("~"):
            return ~int(tok[1:], 0) & self.MASK64
        return int(tok, 0)

    def addr(self, bracket, disp):
        _, _, base = [x.strip() for x in bracket.strip("[]").split(",")]
        return (self.r[base] + int(disp)) & self.MASK64

    def run(self, ops):
        for op in ops:
            self.step(op)
            self.r["t0"] = 0  # gem5's zero register: writes are dropped

    def step(self, op):
        m = re.match(r"(\w+)\s*(.*)", op)
        name, rest = m.group(1), m.group(2)
        bracket = re.search(r"\[[^\]]*\]", rest)
        flags = re.search(r"flags=\(([^)]*)\)", rest)
        args = [a.strip() for a in re.sub(r"\[[^\]]*\]", "MEM", rest).split(",")
                if a.strip() and "=" not in a]
        d = args[0] if args else None
        if name == "rdip":
            self.r[d] = self.rip
        elif name == "rdval":
            reg = re.search(r'misc_reg::(\w+)', rest).group(1)
            self.r[d] = self.misc[reg]
        elif name == "uivec":
            self.r[d] = self.val(args[1]).bit_length() - 1
        elif name == "uiack":
            self.misc["UintrRr"] &= ~(1 << self.val(args[0]))
            self.misc["Uif"] = 0
        elif name in ("sub", "and", "xor", "subi", "andi"):
            a, b = self.val(args[1]), self.val(args[2])
            res = {"sub": a - b, "subi": a - b, "and": a & b, "andi": a & b,
                   "xor": a ^ b}[name] & self.MASK64
            if flags and "EZF" in flags.group(1):
                self.ezf = res == 0
            self.r[d] = res
        elif name == "limm":
            self.r[d] = self.val(args[1])
        elif name == "mov":
            if flags and flags.group(1).strip(",") == "nCEZF":
                if self.ecf or self.ezf:
                    return
            self.r[d] = self.val(args[2])
        elif name == "st":
            disp = args[3] if len(args) > 3 else "0"
            self.mem[self.addr(bracket.group(0), disp)] = self.val(args[0])
        elif name == "ld":
            disp = args[3] if len(args) > 3 else "0"
            self.r[d] = self.mem[self.addr(bracket.group(0), disp)]
        elif name == "rflags":
            self.r[d] = self.rflags
        elif name == "wrflags":
            self.rflags = self.val(args[0]) ^ self.val(args[1])
        elif name == "wruif":
            self.misc["Uif"] = self.val(args[0])
        elif name == "wrip":
            self.rip = (self.val(args[0]) + self.val(args[1])) & self.MASK64
        elif name == "eret":
            self.done = True
        else:
            raise AssertionError(f"micro-op {name} not interpreted: {op}")


class DeliveryThenUiret(unittest.TestCase):
    def deliver_and_return(self, stack_adjust, rflags_in_handler):
        rsp0, rip0, flags0, handler = 0x7ffff000_0118, 0x401234, 0x246, 0x402000
        m = Machine({"rsp": rsp0}, {"UintrRr": (1 << 5) | (1 << 9), "Uif": 1,
                                     "UintrStackAdjust": stack_adjust,
                                     "UintrHandler": handler}, flags0, rip0)
        m.run(routine("extern uintrDeliver:"))
        self.assertTrue(m.done)
        self.assertEqual(m.rip, handler)
        self.assertEqual(m.misc["UintrRr"], 1 << 5)  # vector 9 taken first
        self.assertEqual(m.misc["Uif"], 0)
        self.assertEqual(m.r["rsp"] % 16, 0)
        self.assertEqual(m.mem[m.r["rsp"]], 9)
        if stack_adjust & 1:  # uintr_alt_stack: the frame sits below it
            top = stack_adjust & ~1
            self.assertTrue(top - 64 <= m.r["rsp"] < top)
        else:  # below the red zone, 16-byte aligned
            self.assertEqual(m.r["rsp"], ((rsp0 - stack_adjust) & ~15) - 32)
        # The handler pops the vector and changes flags, then UIRET.
        m.r["rsp"] += 8
        m.rflags = rflags_in_handler
        m.run(routine("def macroop UIRET {"))
        self.assertEqual(m.rip, rip0)
        self.assertEqual(m.r["rsp"], rsp0)
        self.assertEqual(m.misc["Uif"], 1)
        mask = core_mask()
        self.assertEqual(m.rflags & mask, flags0 & mask)
        self.assertEqual(m.rflags & ~mask, rflags_in_handler & ~mask)
        return m

    def test_red_zone_and_alternate_stack(self):
        m = self.deliver_and_return(128, 0x8d5 | 0x200)
        self.assertEqual(core_mask(), 0x254DD5)
        alt = self.deliver_and_return(0x7fffe000_0000 | 1, 0x0)
        self.assertIsNotNone(alt)
        self.assertIsNotNone(m)

    def test_uiret_is_micro_code_not_a_trap(self):
        with open(PATCH) as f:
            text = f.read()
        self.assertIn("0x1: Inst::UIRET();", text)
        self.assertNotIn("user_interrupt_op::Uiret,", text)


if __name__ == "__main__":
    unittest.main()
