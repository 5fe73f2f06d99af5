//! Gives the shared object cargo builds (`target/<profile>/libnemo.so`) the SONAME of the
//! installed library, `libnemo.so.<ABI version>`, so that what links against either records the
//! same name. The ABI version is the crate's `MAJOR` once that is ≥ 1, else `0.MINOR`: under
//! semantic versioning a 0.x minor release may break the ABI (cargo-c names its libraries the
//! same way).
//!
//! Symbol versions (`ffi/install/libnemo.map`) are applied by the installer (`nemo-install`), which links the
//! installed `libnemo.so` from `libnemo.a`: rustc gives every cdylib its own anonymous version
//! script listing the exports: GNU ld refuses a second, named script beside it, and lld lets the
//! first script decide the exports' versions, so the cdylib cannot carry them.

use std::env;

fn main() {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("set by cargo");
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnemo.so.{abi}");
    println!("cargo:rustc-env=NEMO_ABI_VERSION={abi}");
    println!("cargo:rerun-if-changed=build.rs");
}
