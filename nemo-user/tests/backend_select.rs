//! Backend selection through the real environment: each case runs this test binary again with
//! `NEMO_BACKEND` / `NEMO_SIGNAL` set, because the process's choice is made once.

use std::process::Command;

use nemo_user::BackendKind;
use nemo_user::interrupt::Receiver;
use nemo_user::{ErrorKind, backend_info};

/// Runs the `probe` test in a child process with `env`, and returns its combined output if it
/// passed.
fn run_probe(env: &[(&str, &str)]) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "probe",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("NEMO_BACKEND")
        .env_remove("NEMO_SIGNAL")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "probe failed with {env:?}:\n{text}");
    assert!(text.contains("1 passed"), "probe did not run:\n{text}");
    text
}

/// Checks, in whatever environment it was started with, that `backend_info()` and registration
/// agree with `NEMO_BACKEND`. Run by the tests above in child processes.
#[test]
#[ignore = "run in a child process by the other tests"]
fn probe() {
    let env = std::env::var("NEMO_BACKEND").ok();
    let uintr_here = uintr_sys::detect().is_available();
    match env.as_deref() {
        Some("uintr") if !uintr_here => {
            let e = backend_info().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            assert!(
                e.to_string()
                    .starts_with("the uintr backend is not available: "),
                "{e}"
            );
            assert_eq!(Receiver::builder().register(|_| {}).err(), Some(e));
        }
        Some("bogus") => {
            let e = backend_info().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
            assert!(
                e.to_string().starts_with("invalid backend \"bogus\""),
                "{e}"
            );
            assert!(
                e.to_string().contains("\"uintr\", \"signal\", \"poll\""),
                "{e}"
            );
            assert_eq!(Receiver::builder().register(|_| {}).err(), Some(e));
        }
        Some(name) => {
            let info = backend_info().unwrap();
            assert_eq!(info.kind.to_string(), name);
            assert!(info.forced);
            let rx = Receiver::builder().register(|_| {}).unwrap();
            assert_eq!(rx.endpoint().backend(), info.kind);
        }
        None => {
            let info = backend_info().unwrap();
            assert!(!info.forced);
            let want = if uintr_here {
                BackendKind::Uintr
            } else {
                BackendKind::Signal
            };
            assert_eq!(info.kind, want);
        }
    }
    // Whatever the default, an explicit software backend is always available.
    let rx = Receiver::builder()
        .backend(BackendKind::Poll)
        .register(|_| {})
        .unwrap();
    assert_eq!(rx.endpoint().backend(), BackendKind::Poll);
    drop(rx);
    if let Ok(value) = std::env::var("NEMO_SIGNAL") {
        let chosen = nemo_user::embed::signal_number();
        match value.as_str() {
            "RTMIN+9" => assert_eq!(chosen, Ok(libc::SIGRTMIN() + 9)),
            _ => assert!(
                chosen
                    .as_ref()
                    .is_err_and(|e| e.kind() == ErrorKind::InvalidConfig
                        && e.to_string().starts_with("invalid signal ")),
                "{value}: {chosen:?}"
            ),
        }
    }
    println!("probe: {:?}", backend_info().map(ToString::to_string));
}

#[test]
fn forcing_uintr_where_it_is_missing_is_an_error_not_a_fallback() {
    let out = run_probe(&[("NEMO_BACKEND", "uintr")]);
    if !uintr_sys::detect().is_available() {
        assert!(out.contains("Err(BackendUnavailable"), "{out}");
    }
}

#[test]
fn a_bad_nemo_backend_names_the_valid_values() {
    let out = run_probe(&[("NEMO_BACKEND", "bogus")]);
    assert!(out.contains("InvalidBackend"), "{out}");
}

#[test]
fn forced_software_backends_run() {
    for name in ["signal", "poll"] {
        let out = run_probe(&[("NEMO_BACKEND", name)]);
        assert!(
            out.contains(&format!("Ok(\"{name} (forced by NEMO_BACKEND={name})\")")),
            "{out}"
        );
    }
    let out = run_probe(&[]);
    assert!(out.contains("probe: Ok("), "{out}");
}

#[test]
fn nemo_signal_overrides_the_signal() {
    let out = run_probe(&[("NEMO_BACKEND", "signal"), ("NEMO_SIGNAL", "RTMIN+9")]);
    assert!(out.contains("probe: Ok"), "{out}");
    let out = run_probe(&[("NEMO_SIGNAL", "RTMIN+99")]);
    assert!(out.contains("probe: Ok"), "{out}");
}
