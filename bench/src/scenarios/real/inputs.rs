//! The inputs the programs work on, made once per directory and reused: text for the
//! compressors, raw video for x264, an H.264 clip for ffmpeg.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::NotRun;

fn io_err(what: &Path) -> impl Fn(std::io::Error) -> NotRun + '_ {
    move |e| NotRun::Failed(format!("cannot write {}: {e}", what.display()))
}

/// Deterministic, compressible text of `len` bytes.
pub(super) fn text(dir: &Path, len: usize) -> Result<PathBuf, NotRun> {
    let path = dir.join(format!("text-{len}.txt"));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == len as u64) {
        return Ok(path);
    }
    let words = [
        "event",
        "notify",
        "interrupt",
        "cond",
        "wait",
        "signal",
        "futex",
        "spin",
        "park",
        "wake",
        "core",
        "cache",
        "line",
        "thread",
        "queue",
        "handoff",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(len + 16);
    while data.len() < len {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        data.extend_from_slice(words[(x >> 60) as usize].as_bytes());
        data.push(if (x >> 20).is_multiple_of(11) {
            b'\n'
        } else {
            b' '
        });
    }
    data.truncate(len);
    write_once(&path, &data)
}

/// `frames` frames of 160×120 video in YUV4MPEG2: moving gradients with some noise, so the
/// encoder has motion to search.
pub(super) fn y4m(dir: &Path, frames: usize) -> Result<PathBuf, NotRun> {
    const W: usize = 160;
    const H: usize = 120;
    let path = dir.join(format!("video-{frames}.y4m"));
    let header = format!("YUV4MPEG2 W{W} H{H} F30:1 Ip A1:1 C420jpeg\n");
    let len = header.len() + frames * (6 + W * H * 3 / 2);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == len as u64) {
        return Ok(path);
    }
    let mut data = Vec::with_capacity(len);
    data.extend_from_slice(header.as_bytes());
    let mut x: u32 = 0x1234_5678;
    for f in 0..frames {
        data.extend_from_slice(b"FRAME\n");
        for y in 0..H {
            for c in 0..W {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let v = (c + 2 * f) ^ (y + f / 3);
                data.push((v as u8).wrapping_add((x & 7) as u8));
            }
        }
        for plane in 0..2 {
            for y in 0..H / 2 {
                for c in 0..W / 2 {
                    data.push((128 + ((c + y + f + 40 * plane) % 64)) as u8);
                }
            }
        }
    }
    write_once(&path, &data)
}

/// A 160×120 H.264 clip of `frames` frames, made by ffmpeg from its own test source.
pub(super) fn clip(ffmpeg: &Path, dir: &Path, frames: usize) -> Result<PathBuf, NotRun> {
    let path = dir.join(format!("clip-{frames}.mp4"));
    if path.is_file() {
        return Ok(path);
    }
    let tmp = dir.join(format!("clip-{frames}.partial.{}.mp4", std::process::id()));
    let status = Command::new(ffmpeg)
        .args(["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=160x120:rate=30")
        .args(["-frames:v", &frames.to_string()])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-y"])
        .arg(&tmp)
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| NotRun::Failed(format!("cannot run ffmpeg to make the clip: {e}")))?;
    if !status.success() {
        return Err(NotRun::Skipped(format!(
            "ffmpeg could not make an H.264 clip ({status}; needs libx264)"
        )));
    }
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    Ok(path)
}

fn write_once(path: &Path, data: &[u8]) -> Result<PathBuf, NotRun> {
    let tmp = path.with_extension(format!("partial.{}", std::process::id()));
    std::fs::write(&tmp, data).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(path.to_path_buf())
}
