use std::io::Write;

use super::*;
use crate::types::{Content, ConversationMessage, Error, Role, UsageMetadata};

fn usage(total: u32) -> UsageMetadata {
    UsageMetadata {
        total_token_count: Some(total),
        ..Default::default()
    }
}

fn save(file: &mut ConversationFile, user: &str, answer: &str, total: u32) {
    file.append(SavedTurn {
        user: &Content::text(user),
        tool_messages: &[],
        answer,
        usage: usage(total),
        compact: false,
    })
    .unwrap();
}

fn invalid(result: Result<(ConversationFile, SavedConversation), Error>) -> String {
    match result {
        Err(Error::InvalidConfig(message)) => message,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn turns_come_back_in_order_with_counts_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let (mut file, saved) = ConversationFile::open(dir.path(), "c1").unwrap();
    assert_eq!(saved, SavedConversation::default());
    save(&mut file, "hi", "echo: hi", 3);
    file.append(SavedTurn {
        user: &Content::text("tools"),
        tool_messages: &[ConversationMessage::new(Role::Tool, "42")],
        answer: "done",
        usage: usage(4),
        compact: true,
    })
    .unwrap();
    drop(file);
    let (_file, saved) = ConversationFile::open(dir.path(), "c1").unwrap();
    assert_eq!(
        saved.history(),
        [
            ConversationMessage::new(Role::User, "hi"),
            ConversationMessage::new(Role::Model, "echo: hi"),
            ConversationMessage::new(Role::User, "tools"),
            ConversationMessage::new(Role::Tool, "42"),
            ConversationMessage::new(Role::Model, "done"),
        ]
    );
    assert_eq!(saved.turn_count(), 2);
    assert_eq!(saved.total_usage, usage(7));
    assert_eq!(saved.last_turn_usage, usage(4));
    assert_eq!(saved.compaction_indices, [5]);
    assert_eq!(saved.last_response(), Some("done"));
}

#[test]
fn a_torn_last_line_is_dropped_and_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let torn_lines = [
        &b"{\"turn\":{\"user\":{\"Te"[..],
        b"\0\0\0\0\0\0",
        b"{\"turn\":1}\n",
    ];
    for (index, torn) in torn_lines.into_iter().enumerate() {
        let id = format!("c{index}");
        let (mut file, _) = ConversationFile::open(dir.path(), &id).unwrap();
        save(&mut file, "one", "1", 1);
        let good = std::fs::metadata(file.path()).unwrap().len();
        let path = file.path().to_owned();
        drop(file);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(torn)
            .unwrap();
        let (mut file, saved) = ConversationFile::open(dir.path(), &id).unwrap();
        assert_eq!(saved.turn_count(), 1, "after a torn {torn:?}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        // What comes next starts on a line of its own.
        save(&mut file, "two", "2", 2);
        drop(file);
        let (_file, saved) = ConversationFile::open(dir.path(), &id).unwrap();
        assert_eq!(saved.turn_count(), 2);
        assert_eq!(saved.total_usage, usage(3));
    }
}

#[test]
fn a_bad_line_before_the_last_refuses_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut file, _) = ConversationFile::open(dir.path(), "c1").unwrap();
    save(&mut file, "one", "1", 1);
    drop(file);
    let path = dir.path().join("c1.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("not json\n");
    text.push_str(text.lines().nth(1).unwrap().to_owned().as_str());
    text.push('\n');
    std::fs::write(&path, &text).unwrap();
    let message = invalid(ConversationFile::open(dir.path(), "c1"));
    assert!(message.contains("damaged at line 3"), "{message}");
    assert!(message.contains("c1.jsonl"), "{message}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_file_that_is_not_a_conversation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.jsonl"), "{\"something\":\"else\"}\n").unwrap();
    let message = invalid(ConversationFile::open(dir.path(), "a"));
    assert!(message.contains("line 1"), "{message}");
    std::fs::write(
        dir.path().join("b.jsonl"),
        "{\"header\":{\"format\":99,\"id\":\"b\"}}\n",
    )
    .unwrap();
    let message = invalid(ConversationFile::open(dir.path(), "b"));
    assert!(message.contains("format 99"), "{message}");
    std::fs::write(dir.path().join("notes.jsonl"), "my notes, no newline").unwrap();
    let message = invalid(ConversationFile::open(dir.path(), "notes"));
    assert!(message.contains("not a saved conversation"), "{message}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.jsonl")).unwrap(),
        "my notes, no newline"
    );
    // A header cut short by a crash while the file was being made starts afresh.
    std::fs::write(dir.path().join("new.jsonl"), "{\"header\":{\"for").unwrap();
    let (_file, saved) = ConversationFile::open(dir.path(), "new").unwrap();
    assert_eq!(saved, SavedConversation::default());
}

#[test]
fn clear_keeps_only_the_usage_totals() {
    let dir = tempfile::tempdir().unwrap();
    let (mut file, _) = ConversationFile::open(dir.path(), "c1").unwrap();
    save(&mut file, "secret", "answer", 5);
    file.clear().unwrap();
    save(&mut file, "after", "clear", 2);
    let text = std::fs::read_to_string(file.path()).unwrap();
    assert!(!text.contains("secret"), "{text}");
    drop(file);
    let (_file, saved) = ConversationFile::open(dir.path(), "c1").unwrap();
    assert_eq!(saved.turn_count(), 1);
    assert_eq!(saved.history().len(), 2);
    assert_eq!(saved.total_usage, usage(7));
    assert_eq!(saved.last_turn_usage, usage(2));
}

#[test]
fn one_agent_at_a_time_and_delete_removes() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = ConversationFile::open(dir.path(), "c1").unwrap();
    let message = invalid(ConversationFile::open(dir.path(), "c1"));
    assert!(message.contains("in use"), "{message}");
    let path = file.path().to_owned();
    file.delete().unwrap();
    assert!(!path.exists());
    let (file, saved) = ConversationFile::open(dir.path(), "c1").unwrap();
    assert_eq!(saved, SavedConversation::default());
    drop(file);
}

#[test]
fn ids_that_could_escape_the_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for id in [
        "",
        "../x",
        "a/b",
        ".hidden",
        "a\0b",
        "späť",
        &"x".repeat(201),
    ] {
        let message = invalid(ConversationFile::open(dir.path(), id));
        assert!(message.starts_with("conversation_id"), "{id:?}: {message}");
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    check_conversation_id("Chat_2026-12-03.v1").unwrap();
    let generated = new_conversation_id();
    check_conversation_id(&generated).unwrap();
    assert_ne!(generated, new_conversation_id());
}

#[test]
fn odd_files_are_refused_not_followed_or_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("d.jsonl")).unwrap();
    assert!(invalid(ConversationFile::open(dir.path(), "d")).contains("d.jsonl"));
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("s.jsonl")).unwrap();
    assert!(invalid(ConversationFile::open(dir.path(), "s")).contains("symbolic link"));
    let fifo = dir.path().join("f.jsonl");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    assert!(invalid(ConversationFile::open(dir.path(), "f")).contains("not a regular file"));
}

#[test]
fn a_save_dir_that_cannot_be_made_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let message = invalid(ConversationFile::open(&blocker.join("sub"), "c1"));
    assert!(message.starts_with("save_dir"), "{message}");
}

#[test]
fn a_clear_keeps_the_usage_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut file, _) = ConversationFile::open(dir.path(), "c1").unwrap();
    save(&mut file, "one", "two", 3);
    drop(file);
    let (mut file, _) = ConversationFile::open(dir.path(), "c1").unwrap();
    file.clear().unwrap();
    drop(file);
    let (_file, saved) = ConversationFile::open(dir.path(), "c1").unwrap();
    assert!(saved.turns.is_empty());
    assert_eq!(saved.total_usage, usage(3));
    assert_eq!(saved.last_turn_usage, usage(3));
}

#[test]
fn media_in_a_message_comes_back_as_it_went() {
    let dir = tempfile::tempdir().unwrap();
    let picture = crate::types::Media::new((0..=255).collect::<Vec<u8>>(), "image/png");
    let user = Content::Multi(vec![
        Content::text("what is this?"),
        Content::Image(picture),
    ]);
    let (mut file, _) = ConversationFile::open(dir.path(), "c1").unwrap();
    file.append(SavedTurn {
        user: &user,
        tool_messages: &[],
        answer: "a gradient",
        usage: usage(1),
        compact: false,
    })
    .unwrap();
    drop(file);
    let (_file, saved) = ConversationFile::open(dir.path(), "c1").unwrap();
    assert_eq!(saved.turns[0].user, user);
}
