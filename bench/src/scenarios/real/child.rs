//! One run of a program as a child process: wall time around `spawn` … `wait4`, CPU time from
//! `wait4`'s `rusage`, a hash of its output, a watchdog that kills it past its limit.

use std::hash::Hasher;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::Program;

/// One run of a program.
#[derive(Clone, Debug)]
pub struct Run {
    /// Spawn to reaped.
    pub wall: Duration,
    /// User + system time of the child and its threads.
    pub cpu: Duration,
    /// A hash of its standard output.
    pub output: u64,
    /// Its standard error, when asked for.
    pub stderr: String,
}

/// Runs `p` once, with `LD_PRELOAD=shim` if given (and `NEMO_PRELOAD_VERBOSE=2` with
/// `verbose`, whose lines come back in [`Run::stderr`]); a run that outlasts `limit` is killed.
pub fn run_once(
    p: &Program,
    shim: Option<&Path>,
    verbose: bool,
    limit: Duration,
) -> Result<Run, String> {
    let mut cmd = Command::new(&p.argv[0]);
    cmd.args(&p.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if verbose {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    for var in [
        "LD_PRELOAD",
        "NEMO_PRELOAD",
        "NEMO_PRELOAD_SPIN_US",
        "NEMO_PRELOAD_VERBOSE",
    ] {
        cmd.env_remove(var);
    }
    if let Some(s) = shim {
        cmd.env("LD_PRELOAD", s);
        if verbose {
            cmd.env("NEMO_PRELOAD_VERBOSE", "2");
        }
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", p.argv[0].to_string_lossy()))?;
    let pid = child.id() as libc::pid_t;
    let stdout = child.stdout.take();
    let hasher = std::thread::spawn(move || {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        if let Some(mut out) = stdout {
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                h.write(&buf[..n]);
            }
        }
        h.finish()
    });
    let stderr = child.stderr.take();
    let errs = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let end = Instant::now() + limit;
            while !done.load(Ordering::Acquire) {
                if Instant::now() >= end {
                    // SAFETY: kill has no memory effects; the child is not reaped until the
                    // main thread's wait4 returns, so `pid` still names it.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        })
    };
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: `status` and `ru` are writable; `pid` is our unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            break Err(format!("wait4: {e}"));
        }
    };
    let wall = start.elapsed();
    done.store(true, Ordering::Release);
    let killed = watchdog.join().unwrap_or(false);
    let output = hasher.join().unwrap_or(0);
    let stderr = errs.join().unwrap_or_default();
    reaped?;
    if killed {
        return Err(format!("killed after {} s", limit.as_secs()));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "{} {} (status {status:#x})",
            p.id,
            if libc::WIFSIGNALED(status) {
                format!("died of signal {}", libc::WTERMSIG(status))
            } else {
                format!("exited with {}", libc::WEXITSTATUS(status))
            }
        ));
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    Ok(Run {
        wall,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        output,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::super::which;
    use super::*;

    #[test]
    fn a_run_past_its_limit_is_killed() {
        let sleep = Program {
            id: "sleep".into(),
            argv: vec![which("sleep").expect("sleep on PATH").into(), "30".into()],
            deterministic: true,
        };
        let start = Instant::now();
        let r = run_once(&sleep, None, false, Duration::from_millis(200));
        assert!(r.is_err_and(|e| e.contains("killed")));
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
