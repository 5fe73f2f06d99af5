//! The machine code of the instruction wrappers and of the handler entries matches
//! UINTR-ABI.md §3, read from the compiled functions themselves (nothing here executes a UINTR
//! instruction).

use std::arch::naked_asm;

use uintr_sys::trampoline::Frame;
use uintr_sys::{UittIndex, instructions, uintr_entry};

/// The first `N` bytes of a function's machine code.
fn code<const N: usize>(f: *const ()) -> [u8; N] {
    // SAFETY: functions live in the mapped, readable text segment; N is small enough to stay
    // inside it for these functions.
    core::array::from_fn(|i| unsafe { core::ptr::read_volatile((f as *const u8).add(i)) })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// Out-of-line callers of the (always-inlined) wrappers.
#[inline(never)]
unsafe fn call_clui() {
    // SAFETY: never called.
    unsafe { instructions::clui() }
}
#[inline(never)]
unsafe fn call_stui() {
    // SAFETY: never called.
    unsafe { instructions::stui() }
}
#[inline(never)]
unsafe fn call_testui() -> bool {
    // SAFETY: never called.
    unsafe { instructions::testui() }
}
#[inline(never)]
unsafe fn call_senduipi(i: UittIndex) {
    // SAFETY: never called.
    unsafe { instructions::senduipi(i) }
}

// The wrapper's mnemonic with fixed registers, to pin the REX.B form.
#[unsafe(naked)]
unsafe extern "C" fn senduipi_rax() {
    naked_asm!("senduipi rax", "ret")
}
#[unsafe(naked)]
unsafe extern "C" fn senduipi_r8() {
    naked_asm!("senduipi r8", "ret")
}
#[unsafe(naked)]
unsafe extern "C" fn senduipi_r15() {
    naked_asm!("senduipi r15", "ret")
}

#[test]
fn clui_stui_testui_wrappers_encode_as_documented() {
    let cases: [(&str, *const (), [u8; 4]); 3] = [
        ("clui", call_clui as *const (), [0xf3, 0x0f, 0x01, 0xee]),
        ("stui", call_stui as *const (), [0xf3, 0x0f, 0x01, 0xef]),
        ("testui", call_testui as *const (), [0xf3, 0x0f, 0x01, 0xed]),
    ];
    for (name, f, bytes) in cases {
        let c = code::<64>(f);
        assert!(
            find(&c, &bytes).is_some(),
            "{name}: {bytes:02x?} not in {c:02x?}"
        );
    }
}

#[test]
fn senduipi_wrapper_encodes_as_documented() {
    // F3 [REX.B] 0F C7 /6 with mod = 11: whatever register the compiler picked.
    let c = code::<64>(call_senduipi as *const ());
    let at = c
        .windows(5)
        .position(|w| {
            (w[0] == 0xf3 && w[1] == 0x0f && w[2] == 0xc7 && w[3] & 0xf8 == 0xf0)
                || (w[0] == 0xf3
                    && w[1] == 0x41
                    && w[2] == 0x0f
                    && w[3] == 0xc7
                    && w[4] & 0xf8 == 0xf0)
        })
        .unwrap_or_else(|| panic!("no senduipi in {c:02x?}"));
    assert_eq!(c[at], 0xf3);
}

#[test]
fn senduipi_register_forms() {
    assert_eq!(
        code::<5>(senduipi_rax as *const ()),
        [0xf3, 0x0f, 0xc7, 0xf0, 0xc3]
    );
    assert_eq!(
        code::<6>(senduipi_r8 as *const ()),
        [0xf3, 0x41, 0x0f, 0xc7, 0xf0, 0xc3]
    );
    assert_eq!(
        code::<6>(senduipi_r15 as *const ()),
        [0xf3, 0x41, 0x0f, 0xc7, 0xf7, 0xc3]
    );
}

extern "C" fn handler(_: &mut Frame, _: u64) {}
uintr_entry!(GPR_ENTRY => handler);
uintr_entry!(XSAVE_ENTRY => handler, xsave);

/// push rax, rbx, rcx, rdx, rsi, rdi, rbp, r8 … r15: the order `Frame` is declared in, reversed.
const PUSHES: [u8; 23] = [
    0x50, 0x53, 0x51, 0x52, 0x56, 0x57, 0x55, 0x41, 0x50, 0x41, 0x51, 0x41, 0x52, 0x41, 0x53, 0x41,
    0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57,
];
/// add rsp, 8; uiret.
const RETURN: [u8; 8] = [0x48, 0x83, 0xc4, 0x08, 0xf3, 0x0f, 0x01, 0xec];

#[test]
fn entries_save_in_frame_order_and_return_with_uiret() {
    for (name, f) in [
        ("gpr", GPR_ENTRY as *const ()),
        ("xsave", XSAVE_ENTRY as *const ()),
    ] {
        let c = code::<320>(f);
        assert_eq!(c[..23], PUSHES, "{name}: entry starts by pushing the frame");
        let ret = find(&c, &RETURN).unwrap_or_else(|| panic!("{name}: no `add rsp, 8; uiret`"));
        assert_eq!(c[ret + 4..ret + 8], uintr_sys::emulation::UIRET_BYTES);
    }
    let c = code::<320>(XSAVE_ENTRY as *const ());
    assert!(
        find(&c, &[0x48, 0x0f, 0xae, 0x24, 0x24]).is_some(),
        "xsave64 [rsp]"
    );
    assert!(
        find(&c, &[0x48, 0x0f, 0xae, 0x2c, 0x24]).is_some(),
        "xrstor64 [rsp]"
    );
}
