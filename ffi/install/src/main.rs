//! `nemo-install`: installs nemo's C library into a prefix the way a C library is installed.
//!
//! ```text
//! PREFIX/include/nemo.h
//! LIBDIR/libnemo.so.0.1.0          SONAME libnemo.so.0.1, exports nemo_*@@NEMO_0.1, no debug info
//! LIBDIR/libnemo.so.0.1 -> libnemo.so.0.1.0
//! LIBDIR/libnemo.so     -> libnemo.so.0.1
//! LIBDIR/libnemo.a                 debug info stripped
//! LIBDIR/pkgconfig/nemo.pc         generated for this prefix
//! ```
//!
//! It is what `cargo cinstall` (cargo-c) does for a Rust C library, in a few hundred lines that
//! build in seconds: cargo-c itself is a long build, and this only needs a C compiler, which
//! any C user has. The shared object is linked here from `libnemo.a` with `libnemo.map`, because
//! the cdylib cargo builds cannot carry symbol versions (see `ffi/libnemo/build.rs`).
//!
//! `cargo run --release -p nemo-install -- --prefix DIR` builds the library and installs it;
//! `--destdir` stages the files for a package (the `.pc` still names `--prefix`).
//!
//! Invariants: nothing is written outside DESTDIR+{includedir, libdir, pkgconfigdir}; every file
//! is written under a temporary name and renamed into place, so a failed run leaves no
//! half-written library behind; the SONAME is derived from the crate version exactly as
//! `ffi/libnemo/build.rs` derives the cdylib's.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;

/// The C header, as shipped.
const HEADER: &str = include_str!("../../include/nemo.h");
/// The symbol versions of the shared object.
const VERSION_SCRIPT: &str = include_str!("../libnemo.map");
/// What `rustc --print native-static-libs` lists for libnemo.a on x86_64-unknown-linux-gnu: the
/// shared object links them, and the `.pc` file hands them to static users (`Libs.private`).
const NATIVE_LIBS: [&str; 7] = [
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];
const DESCRIPTION: &str = "Fast event notification: condition variables, events and active \
                           messages over user interrupts";

/// Installs nemo.h, libnemo.so (with SONAME and symbol versions), libnemo.a and nemo.pc.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Installation prefix.
    #[arg(long, default_value = "/usr/local")]
    prefix: PathBuf,
    /// Directory of the libraries [default: PREFIX/lib].
    #[arg(long)]
    libdir: Option<PathBuf>,
    /// Directory of the header [default: PREFIX/include].
    #[arg(long)]
    includedir: Option<PathBuf>,
    /// Directory of nemo.pc [default: LIBDIR/pkgconfig].
    #[arg(long)]
    pkgconfigdir: Option<PathBuf>,
    /// Staging root prepended to every path written (packaging); the installed files still name
    /// the prefix. Also read from $DESTDIR.
    #[arg(long, env = "DESTDIR")]
    destdir: Option<PathBuf>,
    /// Directory holding the libnemo.a to install [default: the one cargo built beside this
    /// program].
    #[arg(long)]
    from: Option<PathBuf>,
    /// C compiler driver that links the shared object.
    #[arg(long, env = "CC", default_value = "cc")]
    cc: String,
}

/// The version parts of the library being installed (the workspace shares one version).
struct Version {
    full: &'static str,
    /// The SONAME's suffix: `MAJOR`, or `0.MINOR` while the major version is 0.
    abi: String,
}

impl Version {
    fn of_this_build() -> Version {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        let minor = env!("CARGO_PKG_VERSION_MINOR");
        let abi = if major == "0" {
            format!("0.{minor}")
        } else {
            major.to_string()
        };
        Version {
            full: env!("CARGO_PKG_VERSION"),
            abi,
        }
    }
}

/// Where the files go, before DESTDIR.
struct Layout {
    prefix: PathBuf,
    libdir: PathBuf,
    includedir: PathBuf,
    pkgconfigdir: PathBuf,
}

impl Layout {
    fn new(args: &Args) -> Result<Layout, String> {
        if !args.prefix.is_absolute() {
            return Err(format!(
                "--prefix must be absolute (got {})",
                args.prefix.display()
            ));
        }
        let libdir = args
            .libdir
            .clone()
            .unwrap_or_else(|| args.prefix.join("lib"));
        let includedir = args
            .includedir
            .clone()
            .unwrap_or_else(|| args.prefix.join("include"));
        let pkgconfigdir = args
            .pkgconfigdir
            .clone()
            .unwrap_or_else(|| libdir.join("pkgconfig"));
        for (name, dir) in [
            ("--libdir", &libdir),
            ("--includedir", &includedir),
            ("--pkgconfigdir", &pkgconfigdir),
        ] {
            if !dir.is_absolute() {
                return Err(format!("{name} must be absolute (got {})", dir.display()));
            }
        }
        Ok(Layout {
            prefix: args.prefix.clone(),
            libdir,
            includedir,
            pkgconfigdir,
        })
    }
}

/// `dir` under the staging root, if any.
fn staged(destdir: Option<&Path>, dir: &Path) -> PathBuf {
    match destdir {
        // `dir` is absolute: strip its root so that join does not discard the staging root.
        Some(root) => root.join(dir.strip_prefix("/").unwrap_or(dir)),
        None => dir.to_path_buf(),
    }
}

/// The directory cargo built libnemo.a in: `deps/` beside this program (a dependency's
/// artifacts stay there), else the program's own directory.
fn built_library_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this program: {e}"))?;
    let dir = exe
        .parent()
        .ok_or("this program has no parent directory")?
        .to_path_buf();
    [dir.join("deps"), dir.clone()]
        .into_iter()
        .find(|d| d.join("libnemo.a").is_file())
        .ok_or_else(|| {
            format!(
                "no libnemo.a in {0}/deps or {0}: build it with `cargo build --release -p \
                 nemo-install`, or name its directory with --from",
                dir.display()
            )
        })
}

fn io_err(what: &str, path: &Path, e: io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

/// Writes `bytes` to `path` through a temporary name in the same directory.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("nemo-install-tmp");
    fs::write(&tmp, bytes).map_err(|e| io_err("cannot write", &tmp, e))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .map_err(|e| io_err("cannot set the mode of", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_err("cannot move into place", path, e))
}

/// Replaces whatever is at `link` with a symbolic link to `target` (a name in the same dir).
fn relink(target: &str, link: &Path) -> Result<(), String> {
    let tmp = link.with_extension("nemo-install-tmp");
    let _ = fs::remove_file(&tmp);
    symlink(target, &tmp).map_err(|e| io_err("cannot create the link", &tmp, e))?;
    fs::rename(&tmp, link).map_err(|e| io_err("cannot move into place", link, e))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The pkg-config file for `layout`.
fn pkg_config(layout: &Layout, version: &Version) -> String {
    // Paths under the prefix are written relative to ${prefix}, so the file can be relocated
    // with pkg-config's --define-prefix.
    let rel = |dir: &Path| match dir.strip_prefix(&layout.prefix) {
        Ok(r) if r.as_os_str().is_empty() => "${prefix}".to_string(),
        Ok(r) => format!("${{prefix}}/{}", r.display()),
        Err(_) => dir.display().to_string(),
    };
    format!(
        "prefix={prefix}\nlibdir={libdir}\nincludedir={includedir}\n\n\
         Name: nemo\nDescription: {DESCRIPTION}\nVersion: {version}\n\
         Libs: -L${{libdir}} -lnemo\nLibs.private: {private}\nCflags: -I${{includedir}}\n",
        prefix = layout.prefix.display(),
        libdir = rel(&layout.libdir),
        includedir = rel(&layout.includedir),
        version = version.full,
        private = NATIVE_LIBS.join(" "),
    )
}

fn install(args: &Args) -> Result<(), String> {
    let layout = Layout::new(args)?;
    let version = Version::of_this_build();
    let from = match &args.from {
        Some(d) => d.clone(),
        None => built_library_dir()?,
    };
    let archive = from.join("libnemo.a");
    if !archive.is_file() {
        return Err(format!("{} does not exist", archive.display()));
    }
    let destdir = args.destdir.as_deref();
    let libdir = staged(destdir, &layout.libdir);
    let includedir = staged(destdir, &layout.includedir);
    let pkgconfigdir = staged(destdir, &layout.pkgconfigdir);
    for d in [&libdir, &includedir, &pkgconfigdir] {
        fs::create_dir_all(d).map_err(|e| io_err("cannot create", d, e))?;
    }

    // The shared object: every member of libnemo.a, exports versioned and limited to nemo_* by
    // the version script, unused sections and debug info dropped, bound at load time.
    let soname = format!("libnemo.so.{}", version.abi);
    let real = format!("libnemo.so.{}", version.full);
    let script = libdir.join("libnemo.map.nemo-install-tmp");
    fs::write(&script, VERSION_SCRIPT).map_err(|e| io_err("cannot write", &script, e))?;
    let so_tmp = libdir.join(format!("{real}.nemo-install-tmp"));
    let linked = run(Command::new(&args.cc)
        .arg("-shared")
        .arg("-o")
        .arg(&so_tmp)
        .arg("-Wl,--whole-archive")
        .arg(&archive)
        .arg("-Wl,--no-whole-archive")
        .arg(format!("-Wl,--version-script={}", script.display()))
        .arg(format!("-Wl,-soname,{soname}"))
        .args([
            "-Wl,--no-undefined",
            "-Wl,--gc-sections",
            "-Wl,--strip-debug",
            "-Wl,-O1",
            "-Wl,-z,relro,-z,now",
            "-Wl,-z,noexecstack",
        ])
        .args(NATIVE_LIBS));
    let _ = fs::remove_file(&script);
    linked?;
    let so = libdir.join(&real);
    fs::rename(&so_tmp, &so).map_err(|e| io_err("cannot move into place", &so, e))?;
    relink(&real, &libdir.join(&soname))?;
    relink(&soname, &libdir.join("libnemo.so"))?;

    // The static library, without the debug info the standard library's objects carry.
    let a = libdir.join("libnemo.a");
    let a_tmp = libdir.join("libnemo.a.nemo-install-tmp");
    fs::copy(&archive, &a_tmp).map_err(|e| io_err("cannot copy", &archive, e))?;
    match run(Command::new("strip").arg("--strip-debug").arg(&a_tmp)) {
        Ok(()) => {}
        Err(e) => eprintln!("nemo-install: libnemo.a keeps its debug info ({e})"),
    }
    fs::rename(&a_tmp, &a).map_err(|e| io_err("cannot move into place", &a, e))?;

    let h = includedir.join("nemo.h");
    write_atomically(&h, HEADER.as_bytes(), 0o644)?;
    let pc = pkgconfigdir.join("nemo.pc");
    write_atomically(&pc, pkg_config(&layout, &version).as_bytes(), 0o644)?;

    for p in [
        &h,
        &so,
        &libdir.join(&soname),
        &libdir.join("libnemo.so"),
        &a,
        &pc,
    ] {
        println!("installed {}", p.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match install(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nemo-install: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(prefix: &str, libdir: Option<&str>) -> Layout {
        let args = Args::parse_from(
            ["nemo-install", "--prefix", prefix]
                .into_iter()
                .chain(libdir.into_iter().flat_map(|l| ["--libdir", l])),
        );
        Layout::new(&args).expect("valid layout")
    }

    #[test]
    fn the_pc_file_names_paths_relative_to_the_prefix() {
        let v = Version::of_this_build();
        let pc = pkg_config(&layout("/opt/nemo", None), &v);
        assert!(
            pc.starts_with("prefix=/opt/nemo\nlibdir=${prefix}/lib\n"),
            "{pc}"
        );
        assert!(pc.contains("includedir=${prefix}/include\n"), "{pc}");
        assert!(pc.contains(&format!("Version: {}\n", v.full)), "{pc}");
        assert!(pc.contains("Libs: -L${libdir} -lnemo\n"), "{pc}");
        let pc = pkg_config(&layout("/usr", Some("/usr/lib/x86_64-linux-gnu")), &v);
        assert!(
            pc.contains("libdir=${prefix}/lib/x86_64-linux-gnu\n"),
            "{pc}"
        );
        let pc = pkg_config(&layout("/usr", Some("/elsewhere/lib")), &v);
        assert!(pc.contains("libdir=/elsewhere/lib\n"), "{pc}");
    }

    #[test]
    fn relative_directories_are_refused() {
        let args = Args::parse_from(["nemo-install", "--prefix", "relative/dir"]);
        assert!(Layout::new(&args).is_err());
        let args = Args::parse_from(["nemo-install", "--prefix", "/p", "--libdir", "lib"]);
        assert!(Layout::new(&args).is_err());
    }

    #[test]
    fn destdir_stages_under_its_root() {
        assert_eq!(
            staged(Some(Path::new("/stage")), Path::new("/usr/lib")),
            PathBuf::from("/stage/usr/lib")
        );
        assert_eq!(
            staged(None, Path::new("/usr/lib")),
            PathBuf::from("/usr/lib")
        );
    }

    #[test]
    fn the_abi_version_is_a_prefix_of_the_version_and_names_the_symbol_node() {
        let v = Version::of_this_build();
        assert!(
            v.full.starts_with(&format!("{}.", v.abi)),
            "{} vs {}",
            v.abi,
            v.full
        );
        assert!(
            VERSION_SCRIPT.contains(&format!("NEMO_{} {{", v.abi)),
            "libnemo.map has no node NEMO_{}",
            v.abi
        );
    }
}
