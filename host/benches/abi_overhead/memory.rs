//! Resident memory per idle agent: 10,000 agents made on each subject, kept alive, and
//! the growth of the resident set that holds them (this process for the in-process and
//! the ABI subjects, host and plugin together; the child for the pipe).

use std::path::PathBuf;

use agent_pipe_peer::Framing;

use crate::subjects::{tokio, Subject};

const AGENTS: usize = 10_000;

fn resident_bytes(pid: &str) -> i64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    let pages: i64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Leaves a figure criterion does not measure for `cargo xtask bench`'s summary.
fn write_report(report: serde_json::Value) {
    let Some(dir) = std::env::var_os("AGENT_BENCH_REPORTS").map(PathBuf::from) else {
        return;
    };
    let path = dir.join(format!("{}.json", report["name"].as_str().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
}

/// Set in the fresh process that measures one subject; names it.
const CHILD: &str = "AGENT_BENCH_IDLE_AGENTS_OF";

const SUBJECTS: [&str; 3] = ["in_process", "through_abi", "pipe_batched"];

/// Measures each subject in a fresh process of this bench (memory a bench group freed
/// would otherwise be reused, and hide the growth), and leaves the report.
pub fn idle_agent_report() {
    let per_agent: Vec<(&str, f64)> = SUBJECTS
        .iter()
        .map(|&subject| {
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .env(CHILD, subject)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let bytes: f64 = stdout.trim().parse().unwrap_or_else(|_| {
                panic!(
                    "the idle-agent child for {subject} said {stdout:?}, {:?}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
            println!("idle agent, resident: {subject} {bytes:.0} B");
            (subject, bytes)
        })
        .collect();
    let subjects_json: serde_json::Map<String, serde_json::Value> = per_agent
        .iter()
        .map(|&(name, bytes)| (name.to_owned(), serde_json::json!(bytes)))
        .collect();
    write_report(serde_json::json!({
        "name": "idle_agent_bytes",
        "unit": "B",
        "value": per_agent[1].1,
        "baseline": "in_process",
        "baseline_value": per_agent[0].1,
        "subjects": subjects_json,
    }));
}

/// In the child: prints the bytes per idle agent of the subject named in [`CHILD`];
/// `false` when this process is not such a child.
pub fn run_as_child() -> bool {
    let Some(name) = std::env::var_os(CHILD) else {
        return false;
    };
    let tokio = tokio();
    let _context = tokio.enter();
    let subject = match name.to_str() {
        Some("in_process") => Subject::in_process(64),
        Some("through_abi") => Subject::through_abi(64),
        _ => Subject::pipe(Framing::Batched, 64),
    };
    let pid = match &subject {
        Subject::Pipe(_, peer) => peer.child_pid().to_string(),
        _ => "self".to_owned(),
    };
    let bytes = tokio.block_on(async {
        // One agent first: what is made once per runtime is not per agent.
        subject.create_agent().await;
        let before = resident_bytes(&pid);
        let mut agents = Vec::with_capacity(AGENTS);
        for _ in 0..AGENTS {
            agents.push(subject.create_agent().await);
        }
        (resident_bytes(&pid) - before) as f64 / AGENTS as f64
    });
    println!("{bytes}");
    true
}
