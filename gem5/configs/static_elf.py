"""Read just enough of an ELF file to tell whether gem5's SE mode can run it.

The configs run a static, non-PIE x86-64 executable. gem5 v24 supports a
dynamically linked one only partially, with the host's loader and libraries
mapped into the simulation (so results would depend on the host's glibc), and
maps any position-independent image, such as the static-PIE that
`-C target-feature=+crt-static` alone produces, at virtual address 0, because
it applies a load bias only to an interpreter. Such runs fail late and
obscurely inside gem5, or quietly differ, so the entry script checks first.
"""

import struct
from dataclasses import dataclass
from typing import Optional

ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
EM_X86_64 = 62
ET_EXEC = 2
ET_DYN = 3
PT_INTERP = 3

# e_type .. e_shstrndx of the 64-bit little-endian header, after e_ident.
_EHDR64 = struct.Struct("<HHIQQQIHHHHHH")
_PHDR64 = struct.Struct("<IIQQQQQQ")


class NotAnElfError(ValueError):
    """The file is not an ELF file, or is truncated."""


@dataclass(frozen=True)
class ElfSummary:
    """The ELF properties that decide whether SE mode can run a file."""

    is_64bit: bool
    little_endian: bool
    machine: int
    elf_type: int
    interpreter: Optional[str]

    @property
    def is_x86_64(self) -> bool:
        return self.is_64bit and self.little_endian and self.machine == EM_X86_64

    @property
    def is_static(self) -> bool:
        return self.interpreter is None

    @property
    def is_pie(self) -> bool:
        return self.elf_type == ET_DYN


def read_elf_summary(path: str) -> ElfSummary:
    """Summarise the ELF header and program headers of `path`.

    Raises `NotAnElfError` for anything that is not a well-formed ELF file,
    and `OSError` if the file cannot be read.
    """
    with open(path, "rb") as f:
        ident = f.read(16)
        if len(ident) < 16 or ident[:4] != ELF_MAGIC:
            raise NotAnElfError(f"{path} is not an ELF file")
        is_64bit = ident[4] == ELFCLASS64
        little_endian = ident[5] == ELFDATA2LSB
        if not (is_64bit and little_endian):
            # e_type and e_machine sit right after e_ident in every ELF class;
            # only 64-bit little-endian files are parsed further, since only
            # those can be x86-64.
            raw = f.read(4)
            if len(raw) < 4:
                raise NotAnElfError(f"{path}: truncated ELF header")
            order = "<" if little_endian else ">"
            elf_type, machine = struct.unpack(order + "HH", raw)
            return ElfSummary(is_64bit, little_endian, machine, elf_type, None)

        header = f.read(_EHDR64.size)
        if len(header) < _EHDR64.size:
            raise NotAnElfError(f"{path}: truncated ELF header")
        (
            elf_type,
            machine,
            _version,
            _entry,
            phoff,
            _shoff,
            _flags,
            _ehsize,
            phentsize,
            phnum,
            _shentsize,
            _shnum,
            _shstrndx,
        ) = _EHDR64.unpack(header)

        interpreter = None
        if phnum and phentsize < _PHDR64.size:
            raise NotAnElfError(f"{path}: bad program header size {phentsize}")
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            raw = f.read(_PHDR64.size)
            if len(raw) < _PHDR64.size:
                raise NotAnElfError(f"{path}: truncated program headers")
            p_type, _p_flags, p_offset, _va, _pa, p_filesz, _memsz, _align = (
                _PHDR64.unpack(raw)
            )
            if p_type == PT_INTERP:
                f.seek(p_offset)
                name = f.read(p_filesz)
                interpreter = name.split(b"\0", 1)[0].decode("utf-8", "replace")
                # An interpreter entry with an empty path still makes the
                # file dynamic.
                interpreter = interpreter or "(empty PT_INTERP)"
                break
        return ElfSummary(True, True, machine, elf_type, interpreter)
