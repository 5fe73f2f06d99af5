"""Small synthetic ELF files, enough for the header checks."""

import os
import struct

EM_X86_64 = 62
EM_AARCH64 = 183
EM_386 = 3
ET_REL = 1
ET_EXEC = 2
ET_DYN = 3
PT_LOAD = 1
PT_INTERP = 3


def write_elf(
    path,
    *,
    elf_class=2,
    machine=EM_X86_64,
    elf_type=ET_EXEC,
    interpreter=None,
    executable=True,
):
    """Write an ELF file with a PT_LOAD and, if given, a PT_INTERP header."""
    ident = b"\x7fELF" + bytes([elf_class, 1, 1]) + bytes(9)
    if elf_class != 2:
        # A 32-bit header: only e_type and e_machine are read from it.
        body = ident + struct.pack("<HHI", elf_type, machine, 1) + bytes(40)
    else:
        phdrs = [(PT_LOAD, 5, 0, 0x400000, 0x400000, 0x1000, 0x1000, 0x1000)]
        interp = b""
        if interpreter is not None:
            interp = interpreter.encode() + b"\0"
        phoff = 64
        data_off = phoff + 56 * (1 + (interpreter is not None))
        if interpreter is not None:
            phdrs.insert(0, (PT_INTERP, 4, data_off, 0, 0, len(interp), len(interp), 1))
        header = struct.pack(
            "<HHIQQQIHHHHHH",
            elf_type,
            machine,
            1,
            0x401000,
            phoff,
            0,
            0,
            64,
            56,
            len(phdrs),
            64,
            0,
            0,
        )
        body = ident + header
        body += b"".join(struct.pack("<IIQQQQQQ", *p) for p in phdrs)
        body += interp
    with open(path, "wb") as f:
        f.write(body)
    os.chmod(path, 0o755 if executable else 0o644)
    return path
