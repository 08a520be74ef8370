//! Ctrl-C and SIGTERM sent to the staged `agent-host` binary in the middle of a turn.
//!
//! The child starts through `env --default-signal=INT` (or `--ignore-signal=INT`), so
//! its SIGINT disposition does not depend on the one this test process inherited.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A slow mock: one 8-character chunk every 200 ms.
const SLOW_MOCK: [&str; 6] = [
    "chat",
    "--backend",
    "mock",
    "--option",
    "chunk_delay_ms=200",
    "--option",
];
const LONG_MESSAGE: &str = "one two three four five six seven eight nine ten";
const LONG_ANSWER: &str = "echo: one two three four five six seven eight nine ten";

/// How SIGINT is set when the binary starts.
#[derive(Clone, Copy)]
enum Sigint {
    Default,
    Ignored,
}

/// The staged binary, running, with its stdout collected as it arrives.
struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

fn collect(mut from: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let sink = bytes.clone();
    std::thread::spawn(move || {
        let mut buffer = [0; 4096];
        while let Ok(read @ 1..) = from.read(&mut buffer) {
            sink.lock().unwrap().extend_from_slice(&buffer[..read]);
        }
    });
    bytes
}

impl Running {
    fn start(args: &[&str], sigint: Sigint) -> Running {
        let work_dir = std::env::temp_dir();
        let mut child = Command::new("env")
            .arg(match sigint {
                Sigint::Default => "--default-signal=INT",
                Sigint::Ignored => "--ignore-signal=INT",
            })
            .arg(common::staged_binary())
            .args(args)
            .env_remove("AGENT_HOST_PLUGIN_PATH")
            .env_remove("AGENT_HOST_CONFIG")
            .env_remove("PYTHONHOME")
            .current_dir(work_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Running {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        common::text(&self.stdout.lock().unwrap())
    }

    fn stderr(&self) -> String {
        common::text(&self.stderr.lock().unwrap())
    }

    /// Waits until stdout satisfies `ready`; panics after 10 s.
    fn wait_for_stdout(&self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stdout = self.stdout();
            if ready(&stdout) {
                return stdout;
            }
            assert!(
                Instant::now() < deadline,
                "stdout so far: {stdout:?}; stderr: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn write_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits until the binary's main thread is blocked writing to a full pipe; panics
    /// after 10 s.
    fn wait_until_blocked_writing(&self) {
        let wchan = format!("/proc/{}/wchan", self.child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&wchan).unwrap_or_default() != "anon_pipe_write" {
            assert!(Instant::now() < deadline, "never blocked on stdout");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `kill -<signal> <pid>`.
    fn send(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// The exit status, or `None` if it is still running after `limit`.
    fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the collector threads take the last bytes.
                std::thread::sleep(Duration::from_millis(50));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn exit_code(&mut self) -> Option<i32> {
        let status = self.exit_within(Duration::from_secs(5)).unwrap_or_else(|| {
            panic!(
                "still running; stdout {:?}, stderr {:?}",
                self.stdout(),
                self.stderr()
            )
        });
        status.code()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Some of the answer has arrived, not all of it.
fn partial(stdout: &str) -> bool {
    stdout.len() >= "echo: on".len()
}

fn slow_chat(message: &str) -> Vec<&str> {
    let mut args = SLOW_MOCK.to_vec();
    args.extend(["chunk_chars=8", message]);
    args
}

#[test]
fn ctrl_c_cancels_a_one_shot_turn_keeps_the_partial_answer_and_exits_130() {
    let mut chat = Running::start(&slow_chat(LONG_MESSAGE), Sigint::Default);
    chat.wait_for_stdout(partial);
    chat.send("INT");
    assert_eq!(chat.exit_code(), Some(130), "{}", chat.stderr());
    let stdout = chat.stdout();
    let answer = stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("no newline after the partial answer: {stdout:?}"));
    assert!(
        LONG_ANSWER.starts_with(answer) && answer.len() < LONG_ANSWER.len(),
        "{stdout:?}"
    );
    assert_eq!(chat.stderr(), "");
}

#[test]
fn sigterm_cancels_the_turn_and_exits_143() {
    let mut chat = Running::start(&slow_chat(LONG_MESSAGE), Sigint::Default);
    chat.wait_for_stdout(partial);
    chat.send("TERM");
    assert_eq!(chat.exit_code(), Some(143), "{}", chat.stderr());
    let stdout = chat.stdout();
    assert!(
        stdout.ends_with('\n') && stdout.len() <= LONG_ANSWER.len(),
        "{stdout:?}"
    );
}

#[test]
fn an_inherited_ignored_sigint_stays_ignored_and_the_turn_completes() {
    let mut chat = Running::start(&slow_chat(LONG_MESSAGE), Sigint::Ignored);
    chat.wait_for_stdout(partial);
    chat.send("INT");
    assert_eq!(chat.exit_code(), Some(0), "{}", chat.stderr());
    assert_eq!(chat.stdout(), format!("{LONG_ANSWER}\n"));
}

#[test]
fn ctrl_c_in_interactive_mode_cancels_the_turn_and_the_next_line_is_answered() {
    let mut args = SLOW_MOCK.to_vec();
    args.push("chunk_chars=8");
    let mut chat = Running::start(&args, Sigint::Default);
    chat.write_line(LONG_MESSAGE);
    let partial_answer = chat.wait_for_stdout(partial);
    chat.send("INT");
    chat.wait_for_stdout(|stdout| stdout.ends_with('\n'));
    chat.write_line("next");
    chat.wait_for_stdout(|stdout| stdout.ends_with("echo: next\n"));
    chat.close_stdin();
    assert_eq!(chat.exit_code(), Some(0), "{}", chat.stderr());
    let stdout = chat.stdout();
    let (first, second) = stdout.split_once('\n').unwrap();
    assert!(first.starts_with(partial_answer.as_str()), "{stdout:?}");
    assert!(first.len() < LONG_ANSWER.len(), "{stdout:?}");
    assert_eq!(second, "echo: next\n");
}

#[test]
fn ctrl_c_while_waiting_for_a_line_leaves_the_next_line_answered() {
    let mut args = SLOW_MOCK.to_vec();
    args.push("chunk_chars=64");
    let mut chat = Running::start(&args, Sigint::Default);
    chat.write_line("first");
    chat.wait_for_stdout(|stdout| stdout == "echo: first\n");
    chat.send("INT");
    std::thread::sleep(Duration::from_millis(200));
    chat.send("INT");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        chat.exit_within(Duration::ZERO).is_none(),
        "{}",
        chat.stderr()
    );
    chat.write_line("second");
    chat.wait_for_stdout(|stdout| stdout == "echo: first\necho: second\n");
    chat.send("TERM");
    assert_eq!(chat.exit_code(), Some(143), "{}", chat.stderr());
}

#[test]
fn a_second_ctrl_c_exits_at_once_when_the_first_is_stuck() {
    // Nobody reads stdout: the answer fills the pipe and the CLI blocks writing it,
    // so the first Ctrl-C cannot be acted on.
    let mut chat = Running::start(
        &[
            "chat",
            "--backend",
            "mock",
            "--option",
            "chunk_delay_ms=0",
            "--option",
            "chunk_chars=4096",
        ],
        Sigint::Default,
    );
    // Stop the thread that collects stdout by holding the lock it takes after a read,
    // before the answer comes (a fast answer could otherwise pass whole before the lock
    // is taken), and let the pipe fill.
    let held = chat.stdout.clone();
    let guard = held.lock().unwrap();
    chat.write_line(&"x".repeat(1 << 20));
    chat.wait_until_blocked_writing();
    chat.send("INT");
    assert!(
        chat.exit_within(Duration::from_millis(500)).is_none(),
        "the first Ctrl-C should wait for the blocked write"
    );
    chat.send("INT");
    let status = chat.exit_within(Duration::from_secs(2));
    drop(guard);
    assert_eq!(status.and_then(|status| status.code()), Some(130));
}

/// `check` on a slow mock, well into its run.
fn slow_check() -> Running {
    let mock = common::mock_plugin();
    let check = Running::start(
        &[
            "check",
            mock.to_str().unwrap(),
            "--option",
            "chunk_delay_ms=300",
        ],
        Sigint::Default,
    );
    std::thread::sleep(Duration::from_millis(700));
    check
}

#[test]
fn ctrl_c_ends_check_promptly_with_130() {
    let mut check = slow_check();
    assert!(
        check.exit_within(Duration::ZERO).is_none(),
        "check ended early"
    );
    let sent = Instant::now();
    check.send("INT");
    assert_eq!(check.exit_code(), Some(130), "{}", check.stderr());
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
}

#[test]
fn sigterm_ends_check_promptly_with_143() {
    let mut check = slow_check();
    check.send("TERM");
    assert_eq!(check.exit_code(), Some(143), "{}", check.stderr());
}

#[test]
fn ctrl_c_cancels_a_python_turn_that_never_ends() {
    let agents = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/python/tests/agents");
    let python_path = format!("python_path=[{:?}]", agents.display().to_string());
    let mut chat = Running::start(
        &[
            "chat",
            "--backend",
            "python",
            "--option",
            "agent=failing:Hangs",
            "--option",
            &python_path,
            "hi",
        ],
        Sigint::Default,
    );
    chat.wait_for_stdout(|stdout| stdout == "thinking ");
    chat.send("INT");
    assert_eq!(chat.exit_code(), Some(130), "{}", chat.stderr());
    assert_eq!(chat.stdout(), "thinking \n");
}

/// The backend arguments of a slow chat on `backend`: one short chunk every 200 ms.
fn slow_backend(backend: &str) -> Vec<String> {
    let slow: &[&str] = match backend {
        "mock" => &[
            "--option",
            "chunk_delay_ms=200",
            "--option",
            "chunk_chars=8",
        ],
        _ => &["--extra", "chunk_delay_ms=200"],
    };
    let mut args = vec![
        "chat".to_owned(),
        "--backend".to_owned(),
        backend.to_owned(),
    ];
    args.extend(slow.iter().map(|arg| arg.to_string()));
    args
}

/// A slow `chat` on the conversation `kept` saved in `dir`, with `extra` arguments.
fn start_saved_chat(backend: &str, dir: &Path, extra: &[&str]) -> Running {
    let mut args = slow_backend(backend);
    let dir = dir.display().to_string();
    args.extend(["--save-dir", &dir, "--conversation", "kept"].map(String::from));
    args.extend(extra.iter().map(|arg| arg.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Running::start(&args, Sigint::Default)
}

/// `chat` on a saved conversation, run to its end with stdin closed.
fn saved_chat(backend: &str, dir: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut chat = start_saved_chat(backend, dir, extra);
    chat.close_stdin();
    let code = chat
        .exit_within(Duration::from_secs(30))
        .expect("chat did not end")
        .code();
    (code, chat.stdout(), chat.stderr())
}

/// Every line of a saved conversation is whole: it ends with a newline and is JSON.
fn saved_lines(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("kept.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{line:?}: {error}")))
        .collect()
}

/// SIGKILL in the middle of a turn: the turns that completed are on disk, the one
/// that was streaming is not, the file is whole, and the next run goes on from there.
fn sigkill_mid_turn_keeps_the_completed_turns(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let save_dir = dir.path().join("conversations");
    let mut chat = start_saved_chat(backend, &save_dir, &[]);
    chat.write_line("first");
    chat.wait_for_stdout(|stdout| stdout == "echo: first\n");
    chat.write_line(LONG_MESSAGE);
    chat.wait_for_stdout(|stdout| stdout.len() > "echo: first\necho: on".len());
    chat.send("KILL");
    let status = chat
        .exit_within(Duration::from_secs(5))
        .expect("still running");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    let lines = saved_lines(&save_dir);
    assert_eq!(
        lines.len(),
        2,
        "the header and the completed turn: {lines:?}"
    );
    assert_eq!(lines[1]["turn"]["answer"], "echo: first");

    let (code, history, stderr) = saved_chat(backend, &save_dir, &["--history"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(history, "> first\necho: first\n");
    assert!(
        stderr.contains("conversation kept: 1 turn so far"),
        "{stderr}"
    );

    let (code, answer, stderr) = saved_chat(backend, &save_dir, &["second"]);
    assert_eq!(
        (code, answer.as_str()),
        (Some(0), "echo: second\n"),
        "{stderr}"
    );
    let (_, history, _) = saved_chat(backend, &save_dir, &["--history"]);
    assert_eq!(history, "> first\necho: first\n> second\necho: second\n");
}

#[test]
fn sigkill_mid_turn_keeps_the_completed_turns_on_the_mock() {
    sigkill_mid_turn_keeps_the_completed_turns("mock");
}

#[test]
fn sigkill_mid_turn_keeps_the_completed_turns_on_python() {
    sigkill_mid_turn_keeps_the_completed_turns("python");
}

/// A line cut short (a crash while it was written) is dropped with a warning and cut
/// off the file; the turns before it come back.
#[test]
fn a_torn_last_line_is_dropped_and_the_conversation_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = saved_chat("mock", dir.path(), &["first"]);
    assert_eq!(code, Some(0), "{stderr}");
    let path = dir.path().join("kept.jsonl");
    let whole = std::fs::read(&path).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(br#"{"turn":{"user":{"Text":"lost"},"ans"#);
    std::fs::write(&path, &torn).unwrap();

    let (code, history, stderr) = saved_chat("mock", dir.path(), &["--history"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(history, "> first\necho: first\n");
    assert!(
        stderr.contains("dropping the saved conversation's last line"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        whole,
        "the torn line is cut off"
    );
}

/// Anything else wrong in the file stops the agent with the file and the line named,
/// and the file is left as it was.
#[test]
fn a_damaged_conversation_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = saved_chat("mock", dir.path(), &["first"]);
    assert_eq!(code, Some(0), "{stderr}");
    let path = dir.path().join("kept.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.insert_str(text.find('\n').unwrap() + 1, "not json\n");
    std::fs::write(&path, &text).unwrap();

    let (code, stdout, stderr) = saved_chat("mock", dir.path(), &["second"]);
    assert_eq!((code, stdout.as_str()), (Some(1), ""), "{stderr}");
    assert!(
        stderr.contains("kept.jsonl is damaged at line 2"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}
