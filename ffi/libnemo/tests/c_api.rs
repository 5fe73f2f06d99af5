//! The C API from C: `ffi/include/nemo.h` matches what `libnemo.so` exports, and a C program
//! using every function (`tests/c/capi.c`) compiles warning-free and passes, linked against the
//! shared and against the static library.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{deps, manifest, need, run_ok, soname_dir, strict_c11, which};

fn header() -> PathBuf {
    manifest().join("../include/nemo.h")
}

fn scratch() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libnemo-tests");
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Function names declared in the header: `<type> nemo_x(` at the start of a line.
fn declared() -> BTreeSet<String> {
    let text = std::fs::read_to_string(header()).expect("read nemo.h");
    text.lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with("typedef"))
        .filter_map(|l| {
            let open = l.find('(')?;
            let name = l[..open].rsplit([' ', '*']).next()?;
            name.starts_with("nemo_").then(|| name.to_string())
        })
        .collect()
}

#[test]
fn the_header_declares_exactly_the_exported_functions() {
    let test = "the_header_declares_exactly_the_exported_functions";
    let Some(nm) = need("nm", test) else { return };
    let syms = run_ok(
        Command::new(nm)
            .args(["-D", "--defined-only"])
            .arg(deps().join("libnemo.so")),
    );
    let exported: BTreeSet<String> = syms
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[1] == "T" && f[2].starts_with("nemo_")).then(|| f[2].to_string())
        })
        .collect();
    let declared = declared();
    assert!(exported.len() >= 20, "too few exports found: {exported:?}");
    assert_eq!(
        declared,
        exported,
        "nemo.h and libnemo.so disagree:\n  only declared: {:?}\n  only exported: {:?}",
        declared.difference(&exported).collect::<Vec<_>>(),
        exported.difference(&declared).collect::<Vec<_>>()
    );
}

/// Compiles `tests/c/capi.c` strictly, linked by `link`.
fn build_capi(cc: &Path, name: &str, link: &[&str]) -> PathBuf {
    let out = scratch().join(name);
    run_ok(
        strict_c11(cc, "capi.c")
            .arg("-g")
            .args(link)
            .arg("-o")
            .arg(&out),
    );
    out
}

fn run_capi(prog: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = Command::new(prog);
    cmd.env_remove("NEMO_BACKEND")
        .env_remove("NEMO_SIGNAL")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_ok(&mut cmd)
}

#[test]
fn a_c_program_using_every_function_works_with_the_shared_library() {
    let test = "a_c_program_using_every_function_works_with_the_shared_library";
    let Some(cc) = need("cc", test) else { return };
    let d = deps();
    // The program records the library's SONAME, libnemo.so.<ABI>, and looks for that name at
    // run time: give it one, linked to the library cargo built.
    let soname_dir = soname_dir();
    let rpath = format!("-Wl,-rpath,{}", soname_dir.display());
    let libdir = format!("-L{}", d.display());
    let prog = build_capi(&cc, "capi-shared", &[&libdir, &rpath, "-lnemo", "-pthread"]);
    let out = run_capi(&prog, &[], &[]);
    assert!(out.starts_with("capi: all functions ok"), "{out}");
    let out = run_capi(
        &prog,
        &[("NEMO_BACKEND", "carrier-pigeon")],
        &["misconfigured"],
    );
    assert!(
        out.starts_with("capi: misconfigured backend reported"),
        "{out}"
    );
}

#[test]
fn the_shared_library_has_its_soname() {
    let test = "the_shared_library_has_its_soname";
    let Some(readelf) = need("readelf", test) else {
        return;
    };
    let dynamic = run_ok(
        Command::new(readelf)
            .arg("-d")
            .arg(deps().join("libnemo.so")),
    );
    let soname = concat!("libnemo.so.", env!("NEMO_ABI_VERSION"));
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "{dynamic}"
    );
}

#[test]
fn a_c_program_using_every_function_works_with_the_static_library() {
    let test = "a_c_program_using_every_function_works_with_the_static_library";
    let Some(cc) = need("cc", test) else { return };
    let lib = deps().join("libnemo.a");
    let lib = lib.to_string_lossy();
    // What `rustc --print native-static-libs` lists for this target.
    let native = [
        "-lgcc_s",
        "-lutil",
        "-lrt",
        "-lpthread",
        "-lm",
        "-ldl",
        "-lc",
    ];
    let mut link = vec![lib.as_ref(), "-pthread"];
    link.extend(native);
    let prog = build_capi(&cc, "capi-static", &link);
    // Statically linked into the program: no libnemo.so needed at run time.
    if let Some(ldd) = which("ldd") {
        let libs = run_ok(Command::new(ldd).arg(&prog));
        assert!(!libs.contains("libnemo"), "{libs}");
    }
    let out = run_capi(&prog, &[], &[]);
    assert!(out.starts_with("capi: all functions ok"), "{out}");
}

#[test]
fn the_header_is_valid_cplusplus() {
    let test = "the_header_is_valid_cplusplus";
    let Some(gxx) = need("g++", test) else { return };
    let src = scratch().join("header.cpp");
    std::fs::write(
        &src,
        "#include \"nemo.h\"\nstatic_assert(sizeof(nemo_condvar_t) == 48, \"size\");\n\
         int main() { nemo_condvar_t cv = NEMO_CONDVAR_INITIALIZER; \
         return nemo_condvar_signal(&cv); }\n",
    )
    .expect("write header.cpp");
    run_ok(
        Command::new(gxx)
            .args([
                "-std=c++17",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-fsyntax-only",
                "-I",
            ])
            .arg(manifest().join("../include"))
            .arg(&src),
    );
}
