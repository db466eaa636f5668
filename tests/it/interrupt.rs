//! Ctrl-C during apply: nothing new starts, what is in flight finishes and is recorded, exit 130.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::{binary, endpoint, Project};

#[test]
fn ctrl_c_finishes_what_is_in_flight_records_it_and_exits_130() {
    let mut stack = String::from("[stack]\nname = \"{name}\"\n\n");
    for i in 0..200 {
        stack.push_str(&format!("[s3_bucket.b{i}]\n\n"));
    }
    let project = Project::new("intr", &stack).with_emulator();
    let mut child = Command::new(binary())
        .args(["apply", "--auto-approve", "--parallelism", "1"])
        .current_dir(project.dir.path())
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start apply");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("read") > 0 {
        seen.push_str(&line);
        if line.contains(": created") {
            // SAFETY: sends SIGINT to the child we spawned.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            break;
        }
        line.clear();
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("read rest");
    seen.push_str(&rest);
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "exit code after Ctrl-C\n{seen}");
    assert!(seen.contains("Interrupt received"), "{seen}");

    // Everything reported created is in the state, nothing else is, and it is not all 200.
    let created = seen.lines().filter(|l| l.contains(": created")).count();
    let state = project.state();
    let recorded = state["resources"].as_object().expect("resources").len();
    assert_eq!(recorded, created, "{seen}");
    assert!(created < 200, "the run stopped early");
    project.run(&["destroy", "--auto-approve"]).success();
}
