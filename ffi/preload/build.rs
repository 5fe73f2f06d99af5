//! Builds the C half of the shim (the cancellable waits) and links the shared object with the
//! glibc symbol versions.

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let source = manifest.join("c/cond_wait.c");
    let script = manifest.join("nemo_preload.map");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed={}", script.display());

    cc::Build::new()
        .file(&source)
        .std("gnu11")
        // The setjmp-based pthread_cleanup_push (see the file's header), and unwind tables that
        // are exact at every instruction, since asynchronous cancellation may stop any of them.
        .flag("-fno-exceptions")
        .flag("-fasynchronous-unwind-tables")
        .flag("-fvisibility=hidden")
        .flag("-fno-omit-frame-pointer")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        // Linked into the cdylib only (below): the crate's unit-test binary must not define the
        // versioned pthread_cond_* symbols.
        .cargo_metadata(false)
        .compile("nemo_preload_c");

    let lib = out.join("libnemo_preload_c.a");
    // Nothing in Rust refers to the C entry points: keep them with --whole-archive.
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--whole-archive,{},--no-whole-archive",
        lib.display()
    );
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        script.display()
    );
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnemo_preload.so");
    // rustc's own version script names the Rust entry points, which `.symver …, remove` takes
    // out of the symbol table in favour of their versioned names (src/exports.rs).
    println!("cargo:rustc-cdylib-link-arg=-Wl,--undefined-version");
}
