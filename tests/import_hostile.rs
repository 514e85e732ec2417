//! `import-keepalived` on inputs that are not configuration files: FIFOs,
//! devices, files too large, include loops. Each must be refused promptly
//! with a message naming the file (and the including line), never waited
//! on. A child that has not finished by a generous deadline is killed and
//! the test fails as hung (the deadline decides only "hung", never a
//! timing).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ha_vip::import::{MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES};

/// Runs `ha-vip import-keepalived CONF --dry-run`; returns (exit code,
/// stderr). Panics if it is still running after 60 s.
fn import(conf: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ha-vip"))
        .arg("import-keepalived")
        .arg(conf)
        .arg("--dry-run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "import-keepalived {} still running after 60 s: it hangs",
                conf.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

fn assert_refused(conf: &Path, expected: &str) {
    let (code, stderr) = import(conf);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
}

#[test]
fn a_fifo_as_the_main_file_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("keepalived.conf");
    mkfifo(&fifo);
    assert_refused(
        &fifo,
        &format!(
            "{}: cannot read: a FIFO, not a regular file",
            fifo.display()
        ),
    );
}

#[test]
fn an_included_fifo_is_refused_at_the_include_line() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("vrrp.conf");
    mkfifo(&fifo);
    let conf = dir.path().join("keepalived.conf");
    fs::write(&conf, "global_defs {\n}\ninclude vrrp.conf\n").unwrap();
    assert_refused(
        &conf,
        &format!(
            "{}:3: include: cannot read {}: a FIFO, not a regular file",
            conf.display(),
            fifo.display()
        ),
    );
}

#[test]
fn a_fifo_matched_by_a_glob_is_refused_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("conf.d")).unwrap();
    fs::write(dir.path().join("conf.d/a.conf"), "# nothing\n").unwrap();
    let fifo = dir.path().join("conf.d/b.conf");
    mkfifo(&fifo);
    let conf = dir.path().join("keepalived.conf");
    fs::write(&conf, "include conf.d/*.conf\n").unwrap();
    assert_refused(
        &conf,
        &format!(
            "{}:1: include: cannot read {}: a FIFO",
            conf.display(),
            fifo.display()
        ),
    );
}

#[test]
fn devices_are_refused_before_a_byte_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    // /dev/zero never ends and /dev/null is empty: neither is read.
    fs::write(&conf, "! devices\ninclude /dev/zero\n").unwrap();
    assert_refused(
        &conf,
        &format!(
            "{}:2: include: cannot read /dev/zero: a character device, not a regular file",
            conf.display()
        ),
    );
    assert_refused(
        Path::new("/dev/zero"),
        "/dev/zero: cannot read: a character device",
    );
    // Through a symlink that looks like a configuration file.
    let link = dir.path().join("zero.conf");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    fs::write(&conf, "include zero.conf\n").unwrap();
    assert_refused(
        &conf,
        &format!(
            "{}:1: include: cannot read {}: a character device",
            conf.display(),
            link.display()
        ),
    );
    // A directory named like a file.
    fs::create_dir(dir.path().join("dir.conf")).unwrap();
    fs::write(&conf, "include dir.conf\n").unwrap();
    assert_refused(&conf, "dir.conf: a directory, not a regular file");
}

#[test]
fn a_file_larger_than_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.conf");
    // Sparse: refused by its size, so the test writes nothing to disk.
    fs::File::create(&big)
        .unwrap()
        .set_len(MAX_FILE_BYTES + 1)
        .unwrap();
    assert_refused(
        &big,
        &format!(
            "{}: cannot read: larger than {MAX_FILE_BYTES} bytes",
            big.display()
        ),
    );
    let conf = dir.path().join("keepalived.conf");
    fs::write(&conf, "include big.conf\n").unwrap();
    assert_refused(
        &conf,
        &format!(
            "{}:1: include: cannot read {}: larger than {MAX_FILE_BYTES} bytes",
            conf.display(),
            big.display()
        ),
    );
    // At the limit it is read (and is only comments).
    let line = "# a comment line of a keepalived.conf, repeated up to the limit\n";
    let mut text = line.repeat(usize::try_from(MAX_FILE_BYTES).unwrap() / line.len());
    text.truncate(usize::try_from(MAX_FILE_BYTES).unwrap());
    fs::write(&big, text).unwrap();
    let (code, stderr) = import(&conf);
    assert!(!stderr.contains("larger than"), "{stderr}");
    // No vrrp_instance: converted to nothing, which is not an error.
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn the_files_together_have_a_limit_too() {
    let dir = tempfile::tempdir().unwrap();
    // Each part is under the one-file limit; together they pass the total.
    let part_bytes = MAX_FILE_BYTES - 1024;
    let parts = usize::try_from(MAX_TOTAL_BYTES / part_bytes).unwrap() + 1;
    let line = "# padding\n";
    let text = line.repeat(usize::try_from(part_bytes).unwrap() / line.len());
    let mut conf_text = String::new();
    for i in 1..=parts {
        fs::write(dir.path().join(format!("part{i}.conf")), &text).unwrap();
        conf_text.push_str(&format!("include part{i}.conf\n"));
    }
    let conf = dir.path().join("keepalived.conf");
    fs::write(&conf, conf_text).unwrap();
    assert_refused(
        &conf,
        &format!(
            "{}:{parts}: include: cannot read {}: larger than",
            conf.display(),
            dir.path().join(format!("part{parts}.conf")).display()
        ),
    );
    let (_, stderr) = import(&conf);
    assert!(
        stderr.contains(&format!(
            "all files together may hold {MAX_TOTAL_BYTES} bytes"
        )),
        "{stderr}"
    );
}

#[test]
fn include_loops_are_refused_with_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    fs::write(&conf, "# me again\ninclude keepalived.conf\n").unwrap();
    assert_refused(
        &conf,
        &format!(
            "{c}:2: include keepalived.conf: include loop: {c} includes {c}",
            c = conf.display()
        ),
    );

    let a = dir.path().join("a.conf");
    let b = dir.path().join("b.conf");
    fs::write(&conf, "include a.conf\n").unwrap();
    fs::write(&a, "\n\ninclude b.conf\n").unwrap();
    fs::write(&b, "include a.conf\n").unwrap();
    assert_refused(
        &conf,
        &format!(
            "{}:1: include a.conf: include loop: {a} includes {b} includes {a}",
            b.display(),
            a = a.display(),
            b = b.display()
        ),
    );
}

#[test]
fn a_file_included_again_and_again_stops_at_the_file_count() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("small.conf"), "# small\n").unwrap();
    // Not a loop (each include has ended before the next), but without a
    // bound a glob of such files multiplies.
    let conf = dir.path().join("keepalived.conf");
    fs::write(&conf, "include small.conf\n".repeat(MAX_FILES + 1)).unwrap();
    assert_refused(
        &conf,
        &format!(
            "{}:{MAX_FILES}: include small.conf: more than {MAX_FILES} files read in all",
            conf.display()
        ),
    );
}
