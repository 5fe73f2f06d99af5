//! The C library installs like a C library: `nemo-install` into a temporary prefix, then the
//! README's C example (`ffi/examples/ready.c`) built through `pkg-config` from that prefix as
//! strict C11 and as C++17, and run; the installed `libnemo.so` has its SONAME, versioned
//! exports and no debug info; the header's version macros are the library's.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../libnemo/tests/common/tools.rs"]
mod tools;

use tools::{need, run_ok, which};

fn ffi() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Installs into `prefix` with the installer cargo built for this test.
fn install(prefix: &Path, extra: &[&str]) -> String {
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_nemo-install"))
            .arg("--prefix")
            .arg(prefix)
            .args(extra)
            .env_remove("DESTDIR"),
    )
}

/// `pkg-config ARGS nemo` against the prefix's `.pc` only.
fn pkg_config(pc: &Path, prefix: &Path, args: &[&str]) -> Vec<String> {
    run_ok(
        Command::new(pc)
            .args(args)
            .arg("nemo")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .env("PKG_CONFIG_LIBDIR", prefix.join("lib/pkgconfig")),
    )
    .split_whitespace()
    .map(str::to_string)
    .collect()
}

#[test]
fn the_readme_example_builds_from_the_installed_prefix_with_pkg_config_and_runs() {
    let test = "the_readme_example_builds_from_the_installed_prefix_with_pkg_config_and_runs";
    let (Some(cc), Some(gxx), Some(pc)) = (
        need("cc", test),
        need("g++", test),
        need("pkg-config", test),
    ) else {
        return;
    };
    let dir = scratch("install-pkg-config");
    let prefix = dir.join("prefix");
    let out = install(&prefix, &[]);
    assert!(out.contains("installed "), "{out}");

    assert_eq!(
        pkg_config(&pc, &prefix, &["--modversion"]),
        [env!("CARGO_PKG_VERSION")]
    );
    let mut flags = pkg_config(&pc, &prefix, &["--cflags", "--libs"]);
    assert!(
        flags.contains(&format!("-I{}", prefix.join("include").display())),
        "{flags:?}"
    );
    assert!(flags.contains(&"-lnemo".to_string()), "{flags:?}");
    let static_flags = pkg_config(&pc, &prefix, &["--static", "--libs"]);
    assert!(
        static_flags.contains(&"-lpthread".to_string()),
        "{static_flags:?}"
    );
    flags.push("-pthread".into());

    let example = ffi().join("examples/ready.c");
    let builds: [(&Path, &[&str], &str); 2] = [
        (&cc, &["-std=c11"], "ready-c11"),
        (&gxx, &["-x", "c++", "-std=c++17"], "ready-cxx17"),
    ];
    for (compiler, std, name) in builds {
        let exe = dir.join(name);
        run_ok(
            Command::new(compiler)
                .args(std)
                .args(["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O1"])
                .arg(&example)
                .arg("-x")
                .arg("none")
                .args(&flags)
                .arg("-o")
                .arg(&exe),
        );
        // Found at run time through the SONAME's link in the prefix, as after `ldconfig`.
        let out = run_ok(
            Command::new(&exe)
                .env("LD_LIBRARY_PATH", prefix.join("lib"))
                .env_remove("NEMO_BACKEND"),
        );
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            out.trim(),
            format!("nemo {version} (header {version}): consumed 1000 of 1000"),
            "{name}"
        );
        if let Some(readelf) = which("readelf") {
            let dynamic = run_ok(Command::new(readelf).arg("-d").arg(&exe));
            let soname = format!("[libnemo.so.{}]", abi_version());
            assert!(
                dynamic.contains(&format!("Shared library: {soname}")),
                "{name} does not need {soname}:\n{dynamic}"
            );
        }
    }
}

/// `0.MINOR` while the major version is 0, else `MAJOR`.
fn abi_version() -> String {
    match env!("CARGO_PKG_VERSION_MAJOR") {
        "0" => format!("0.{}", env!("CARGO_PKG_VERSION_MINOR")),
        major => major.to_string(),
    }
}

#[test]
fn the_installed_shared_object_has_a_soname_versioned_exports_and_no_debug_info() {
    let test = "the_installed_shared_object_has_a_soname_versioned_exports_and_no_debug_info";
    let (Some(_cc), Some(readelf), Some(objdump)) = (
        need("cc", test),
        need("readelf", test),
        need("objdump", test),
    ) else {
        return;
    };
    let dir = scratch("install-elf");
    let prefix = dir.join("prefix");
    install(&prefix, &[]);
    let lib = prefix.join("lib");
    let abi = abi_version();
    let real = format!("libnemo.so.{}", env!("CARGO_PKG_VERSION"));
    let soname = format!("libnemo.so.{abi}");
    assert_eq!(
        std::fs::read_link(lib.join("libnemo.so")).expect("libnemo.so is a link"),
        PathBuf::from(&soname)
    );
    assert_eq!(
        std::fs::read_link(lib.join(&soname)).expect("the SONAME is a link"),
        PathBuf::from(&real)
    );
    let so = lib.join(&real);
    let dynamic = run_ok(Command::new(&readelf).arg("-d").arg(&so));
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "{dynamic}"
    );
    let sections = run_ok(Command::new(&readelf).arg("-S").arg(&so));
    assert!(!sections.contains(".debug_info"), "{sections}");

    // Every exported function is nemo_* at NEMO_<abi>; the header declares each of them.
    let symbols = run_ok(Command::new(&objdump).arg("-T").arg(&so));
    let node = format!("NEMO_{abi}");
    let exported: Vec<(&str, &str)> = symbols
        .lines()
        .filter(|l| l.contains(" .text") && l.contains(" g "))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((*f.get(f.len().checked_sub(2)?)?, *f.last()?))
        })
        .collect();
    assert!(exported.len() >= 20, "too few exports:\n{symbols}");
    let header = std::fs::read_to_string(prefix.join("include/nemo.h")).expect("nemo.h");
    for (version, name) in &exported {
        assert!(name.starts_with("nemo_"), "exports {name}:\n{symbols}");
        assert_eq!(*version, node, "{name} is not at {node}");
        assert!(header.contains(&format!(" {name}(")), "nemo.h lacks {name}");
    }
}

#[test]
fn destdir_stages_the_files_and_the_pc_file_names_the_prefix() {
    let test = "destdir_stages_the_files_and_the_pc_file_names_the_prefix";
    let Some(_cc) = need("cc", test) else { return };
    let dir = scratch("install-destdir");
    let stage = dir.join("stage");
    let prefix = Path::new("/opt/nemo-test-prefix");
    install(prefix, &["--destdir", stage.to_str().expect("utf-8 path")]);
    let staged = stage.join("opt/nemo-test-prefix");
    assert!(staged.join("include/nemo.h").is_file());
    assert!(staged.join("lib/libnemo.a").is_file());
    let pc = std::fs::read_to_string(staged.join("lib/pkgconfig/nemo.pc")).expect("nemo.pc");
    assert!(pc.starts_with("prefix=/opt/nemo-test-prefix\n"), "{pc}");
    assert!(!prefix.exists(), "wrote outside the staging root");
}

#[test]
fn the_header_version_macros_are_the_crate_version() {
    let header = std::fs::read_to_string(ffi().join("include/nemo.h")).expect("nemo.h");
    let define = |name: &str| -> String {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("nemo.h does not define {name}"))
            .trim()
            .to_string()
    };
    assert_eq!(
        define("NEMO_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        define("NEMO_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        define("NEMO_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    assert_eq!(
        define("NEMO_VERSION_STRING"),
        format!("\"{}\"", env!("CARGO_PKG_VERSION"))
    );
}

/// C reserves identifiers that start with two underscores or an underscore and a capital
/// letter; the header may only use the ones the language or the platform defines.
#[test]
fn the_header_uses_no_reserved_identifiers() {
    let header = std::fs::read_to_string(ffi().join("include/nemo.h")).expect("nemo.h");
    let allowed = ["__cplusplus", "__STDC_VERSION__", "_Static_assert"];
    let mut found = Vec::new();
    let bytes = header.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts_word && bytes[i] == b'_' {
            let end = (i..bytes.len())
                .find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_'))
                .unwrap_or(bytes.len());
            let word = &header[i..end];
            let second = word.as_bytes().get(1).copied().unwrap_or(b' ');
            if (second == b'_' || second.is_ascii_uppercase()) && !allowed.contains(&word) {
                found.push(word.to_string());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    assert!(
        found.is_empty(),
        "reserved identifiers in nemo.h: {found:?}"
    );
}

/// The C example in ffi/README.md is `ffi/examples/ready.c`, verbatim, so the program the
/// tests build is the one users read.
#[test]
fn the_readme_shows_the_tested_example() {
    let readme = std::fs::read_to_string(ffi().join("README.md")).expect("ffi/README.md");
    let example = std::fs::read_to_string(ffi().join("examples/ready.c")).expect("ready.c");
    assert!(
        readme.contains(&format!("```c\n{example}```\n")),
        "ffi/README.md does not show ffi/examples/ready.c verbatim in a ```c block"
    );
}
