//! The client's side of a framed session, written from the caller's own thread.
//!
//! Handing each call to a writer task costs a wake-up of another thread per message
//! (measured: an eventfd write, a worker leaving `epoll_wait`, and tokio waking a second
//! worker to look for work) and most of a call's latency to a child. Here a sender
//! writes its frame to the socket at once when nobody else is writing and the socket
//! takes it. A sender that finds another one writing only appends its frame to the
//! shared buffer; what the writing sender did not write (frames appended meanwhile, or
//! what a full socket did not take: a slow or stopped peer) goes to a flusher task,
//! which writes the buffer in one go as the socket drains.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Buf, BytesMut};
use prost::Message;
use tokio::net::UnixStream;
use tokio::sync::Notify;

use crate::framed::encode_frame;

pub(crate) struct DirectWriter {
    socket: UnixStream,
    state: Mutex<Pending>,
    /// Wakes the flusher when a sender hands it what the socket did not take.
    handed_off: Notify,
}

#[derive(Default)]
struct Pending {
    /// Frames not written yet, in order.
    bytes: BytesMut,
    /// Somebody (a sender or the flusher) is writing: everyone else only appends.
    writing: bool,
    /// The writing is the flusher's (set only by a hand-off).
    flusher_owns: bool,
    closed: bool,
}

impl DirectWriter {
    /// Writes on `socket`; the returned future is the flusher, to be spawned and aborted
    /// with the writer (the socket closes when both are gone).
    pub(crate) fn new(socket: UnixStream) -> (Arc<DirectWriter>, impl Future<Output = ()>) {
        let writer = Arc::new(DirectWriter {
            socket,
            state: Mutex::new(Pending::default()),
            handed_off: Notify::new(),
        });
        (writer.clone(), writer.flush())
    }

    fn state(&self) -> MutexGuard<'_, Pending> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends one message as one frame. The only error is a message over the frame
    /// bound, which is never sent; on a session whose writes failed the message is
    /// dropped, and the reader reports the session lost.
    pub(crate) fn send(&self, message: &impl Message) -> io::Result<()> {
        let mut bytes = {
            let mut pending = self.state();
            if pending.closed {
                return Ok(());
            }
            encode_frame(message, &mut pending.bytes)?;
            if pending.writing {
                return Ok(());
            }
            pending.writing = true;
            pending.bytes.split()
        };
        match self.write_what_it_takes(&bytes) {
            Ok(written) => bytes.advance(written),
            Err(error) => {
                self.close_after(&error);
                return Ok(());
            }
        }
        let mut pending = self.state();
        if bytes.is_empty() && pending.bytes.is_empty() {
            pending.writing = false;
            return Ok(());
        }
        // The rest (the socket is full, or others appended meanwhile) is the flusher's.
        bytes.unsplit(pending.bytes.split());
        pending.bytes = bytes;
        pending.flusher_owns = true;
        drop(pending);
        self.handed_off.notify_one();
        Ok(())
    }

    /// Takes no more frames (a write failed: the session is lost, as the reader says).
    fn close_after(&self, error: &io::Error) {
        tracing::debug!("a framed session's writes stopped: {error}");
        self.state().closed = true;
    }

    /// Writes as much of `bytes` as the socket takes without waiting.
    fn write_what_it_takes(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < bytes.len() {
            match self.socket.try_write(&bytes[written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(written)
    }

    /// Writes what senders handed off, as the socket drains.
    async fn flush(self: Arc<Self>) {
        loop {
            self.handed_off.notified().await;
            loop {
                let mut bytes = {
                    let mut pending = self.state();
                    if !pending.flusher_owns {
                        break;
                    }
                    if pending.bytes.is_empty() || pending.closed {
                        pending.writing = false;
                        pending.flusher_owns = false;
                        break;
                    }
                    pending.bytes.split()
                };
                while !bytes.is_empty() {
                    if let Err(error) = self.socket.writable().await {
                        return self.close_after(&error);
                    }
                    match self.write_what_it_takes(&bytes) {
                        Ok(written) => bytes.advance(written),
                        Err(error) => return self.close_after(&error),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framed::read_messages;
    use crate::proto::HandshakeRequest;
    use futures::StreamExt;

    fn message(text: &str) -> HandshakeRequest {
        HandshakeRequest {
            protocol_version: text.to_owned(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_arrive_whole_and_in_order_from_many_senders_past_a_full_socket() {
        let (near, far) = std::os::unix::net::UnixStream::pair().unwrap();
        near.set_nonblocking(true).unwrap();
        let (writer, flusher) = DirectWriter::new(UnixStream::from_std(near).unwrap());
        let flusher = tokio::spawn(flusher);
        // Nobody reads yet: the socket's buffer fills, and the rest is handed off.
        let big = "x".repeat(64 * 1024);
        let senders: Vec<_> = (0..4)
            .map(|sender| {
                let (writer, big) = (writer.clone(), big.clone());
                std::thread::spawn(move || {
                    for index in 0..50 {
                        writer
                            .send(&message(&format!("{sender} {index} {big}")))
                            .unwrap();
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.join().unwrap();
        }
        far.set_nonblocking(true).unwrap();
        let far = UnixStream::from_std(far).unwrap();
        let mut read = read_messages::<HandshakeRequest, _>(far);
        let mut next_index = [0; 4];
        for _ in 0..200 {
            let text = read.next().await.unwrap().unwrap().protocol_version;
            let mut fields = text.splitn(3, ' ');
            let sender: usize = fields.next().unwrap().parse().unwrap();
            let index: usize = fields.next().unwrap().parse().unwrap();
            assert_eq!(fields.next().unwrap(), big);
            assert_eq!(
                index, next_index[sender],
                "sender {sender}'s frames in order"
            );
            next_index[sender] += 1;
        }
        // The socket closes with the writer and its flusher.
        drop(writer);
        flusher.abort();
        let _ = flusher.await;
        assert!(read.next().await.is_none());
    }

    #[tokio::test]
    async fn a_message_over_the_frame_bound_is_refused_and_the_session_goes_on() {
        let (near, far) = UnixStream::pair().unwrap();
        let (writer, _flusher) = DirectWriter::new(near);
        let huge = crate::proto::ClientMessage {
            items: vec![crate::proto::ClientItem {
                item: Some(crate::proto::client_item::Item::ToolReply(
                    crate::proto::ToolReply {
                        tool_call_id: 1,
                        output: Some(crate::proto::tool_reply::Output::Error(
                            "x".repeat(crate::framed::MAX_FRAME + 1),
                        )),
                    },
                )),
            }],
        };
        let error = writer.send(&huge).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("frame bound"), "{error}");
        writer.send(&message("after")).unwrap();
        let mut read = read_messages::<HandshakeRequest, _>(far);
        assert_eq!(read.next().await.unwrap().unwrap(), message("after"));
    }
}
