//! The framed transport: the same protocol messages as gRPC (`HandshakeRequest`, then
//! `ClientMessage`s one way and `HandshakeReply`, then `ServerMessage`s the other), each
//! as a 4-byte big-endian length and its protobuf bytes, straight on a Unix socket.
//!
//! It is for the host's own children (`isolation = "process"`), where the peer is the
//! same `agent-host` and HTTP/2 buys nothing: with gRPC a round trip passes through
//! hyper's body and connection tasks on both sides, here only through one reader per
//! side, the client's calls written from the caller's thread (`client::direct_writer`)
//! and the server's by one writer task. A child says which transport it serves in its
//! handshake line's last field (`grpc` or `framed`); `url` backends and backends in
//! other languages speak gRPC.

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use prost::Message;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

/// The largest frame either side reads: a message over it (a turn's content with huge
/// media) ends the session with an error naming the size, rather than an allocation
/// the other side chose.
pub const MAX_FRAME: usize = 1 << 30;

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .big_endian()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

/// The frames on `read`.
pub(crate) fn read_frames<R>(read: R) -> impl Stream<Item = io::Result<Bytes>> + Send + Unpin
where
    R: AsyncRead + Send + Unpin + 'static,
{
    FramedRead::new(read, codec()).map(|frame| {
        frame
            .map(BytesMut::freeze)
            .map_err(|error| io::Error::new(error.kind(), format!("cannot read a frame: {error}")))
    })
}

/// The messages on `read`, each decoded as an `M`.
pub(crate) fn read_messages<M, R>(read: R) -> impl Stream<Item = io::Result<M>> + Send + Unpin
where
    M: Message + Default + 'static,
    R: AsyncRead + Send + Unpin + 'static,
{
    read_frames(read).map(|frame| {
        M::decode(frame?).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a bad message: {error}"),
            )
        })
    })
}

/// Reads the one frame a server answers a handshake with. Read byte-exact (no read-ahead
/// buffer is left behind), so the socket then carries the session.
pub(crate) async fn read_handshake_reply(
    mut read: impl AsyncRead + Unpin,
) -> io::Result<crate::proto::HandshakeReply> {
    use tokio::io::AsyncReadExt;
    let length = read.read_u32().await? as usize;
    if length > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a handshake reply of {length} bytes"),
        ));
    }
    let mut bytes = vec![0; length];
    read.read_exact(&mut bytes).await?;
    crate::proto::HandshakeReply::decode(bytes.as_slice())
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))
}

/// Appends `message` to `bytes` as one frame; a message over [`MAX_FRAME`] is an error
/// and appends nothing.
pub(crate) fn encode_frame(message: &impl Message, bytes: &mut BytesMut) -> io::Result<()> {
    let length = message.encoded_len();
    if length > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a message of {length} bytes is over the frame bound of {MAX_FRAME} bytes"),
        ));
    }
    bytes.reserve(4 + length);
    bytes.put_u32(length as u32);
    message
        .encode(bytes)
        .map_err(|error| io::Error::other(error.to_string()))
}

/// A writer of messages on `write`.
pub(crate) struct MessageWriter<W> {
    write: W,
    frame: BytesMut,
}

impl<W: AsyncWrite + Unpin> MessageWriter<W> {
    pub(crate) fn new(write: W) -> Self {
        MessageWriter {
            write,
            frame: BytesMut::new(),
        }
    }

    /// Writes one message and flushes it.
    pub(crate) async fn send(&mut self, message: &impl Message) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.frame.clear();
        encode_frame(message, &mut self.frame)?;
        self.write.write_all(&self.frame).await?;
        self.write.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{HandshakeRequest, ServerMessage};

    #[tokio::test]
    async fn messages_cross_and_a_frame_over_the_bound_is_an_error() {
        let (near, far) = tokio::io::duplex(1 << 16);
        let (_, near_write) = tokio::io::split(near);
        let (far_read, _) = tokio::io::split(far);
        let mut writer = MessageWriter::new(near_write);
        writer
            .send(&HandshakeRequest {
                protocol_version: "1.1.0".into(),
            })
            .await
            .unwrap();
        writer.send(&ServerMessage::default()).await.unwrap();
        let mut read = read_messages::<HandshakeRequest, _>(far_read);
        let first = read.next().await.unwrap().unwrap();
        assert_eq!(first.protocol_version, "1.1.0");
        // An empty message is an empty frame, and reads back.
        assert_eq!(
            read.next().await.unwrap().unwrap(),
            HandshakeRequest::default()
        );

        let (near, far) = tokio::io::duplex(64);
        let (_, mut near_write) = tokio::io::split(near);
        let (far_read, _) = tokio::io::split(far);
        tokio::io::AsyncWriteExt::write_all(&mut near_write, &[0x7f, 0xff, 0xff, 0xff])
            .await
            .unwrap();
        let error = read_messages::<HandshakeRequest, _>(far_read)
            .next()
            .await
            .unwrap()
            .unwrap_err();
        assert!(error.to_string().contains("frame"), "{error}");
    }
}
