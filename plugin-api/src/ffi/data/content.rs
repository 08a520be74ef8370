//! `Content` on the wire: its tree as a flat list of parts in pre-order, each a kind code
//! plus payload. A flat list keeps the type non-recursive, which abi_stable's layout
//! check prefers; kind codes let a minor version add content kinds (a new media type)
//! without changing the layout.
//!
//! Fallback for a kind this side does not know: a part with children becomes `Multi` of
//! them; a leaf with bytes becomes a `Document` (bytes and MIME type kept); a leaf
//! without bytes becomes its text. Nothing a newer peer sends is dropped.

use abi_stable::std_types::{ROption, RString, RVec};
use abi_stable::StableAbi;

use crate::types::{Content, Media};

/// Content kinds on the wire. New codes may be added in a minor version.
mod kind {
    pub const TEXT: u32 = 1;
    pub const MULTI: u32 = 2;
    pub const IMAGE: u32 = 3;
    pub const DOCUMENT: u32 = 4;
    pub const AUDIO: u32 = 5;
    pub const VIDEO: u32 = 6;
}

/// One node of a `Content` tree; the `children` parts that follow it are its own.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiContentPart {
    pub kind: u32,
    /// How many of the following parts are this one's children (0 for a leaf); every
    /// kind says it, so a side that does not know the kind still finds where it ends.
    pub children: u32,
    /// Text: the text. Media: the MIME type.
    pub text: RString,
    /// Media: the bytes.
    pub data: RVec<u8>,
    /// Media: the description, if any.
    pub description: ROption<RString>,
}

impl FfiContentPart {
    fn leaf(kind: u32, text: &str) -> Self {
        FfiContentPart {
            kind,
            children: 0,
            text: text.into(),
            data: RVec::new(),
            description: ROption::RNone,
        }
    }

    fn media(kind: u32, media: &Media) -> Self {
        FfiContentPart {
            data: RVec::from(media.data.as_slice()),
            description: media.description.as_deref().map(RString::from).into(),
            ..FfiContentPart::leaf(kind, &media.mime_type)
        }
    }
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiContent {
    pub parts: RVec<FfiContentPart>,
}

impl From<&Content> for FfiContent {
    fn from(content: &Content) -> Self {
        fn flatten(content: &Content, parts: &mut RVec<FfiContentPart>) {
            parts.push(match content {
                Content::Text(text) => FfiContentPart::leaf(kind::TEXT, text),
                Content::Image(media) => FfiContentPart::media(kind::IMAGE, media),
                Content::Document(media) => FfiContentPart::media(kind::DOCUMENT, media),
                Content::Audio(media) => FfiContentPart::media(kind::AUDIO, media),
                Content::Video(media) => FfiContentPart::media(kind::VIDEO, media),
                Content::Multi(children) => {
                    parts.push(FfiContentPart {
                        children: children.len() as u32,
                        ..FfiContentPart::leaf(kind::MULTI, "")
                    });
                    children.iter().for_each(|child| flatten(child, parts));
                    return;
                }
            });
        }
        let mut parts = RVec::new();
        flatten(content, &mut parts);
        FfiContent { parts }
    }
}

impl From<FfiContent> for Content {
    fn from(content: FfiContent) -> Self {
        fn build(parts: &mut impl Iterator<Item = FfiContentPart>) -> Content {
            // A truncated list (only from a buggy peer) reads as empty text.
            let Some(part) = parts.next() else {
                return Content::Text(String::new());
            };
            if part.kind == kind::MULTI || part.children > 0 {
                return Content::Multi((0..part.children).map(|_| build(parts)).collect());
            }
            let media = |part: FfiContentPart| Media {
                data: part.data.into_vec(),
                mime_type: part.text.into_string(),
                description: part.description.into_option().map(RString::into_string),
            };
            match part.kind {
                kind::TEXT => Content::Text(part.text.into_string()),
                kind::IMAGE => Content::Image(media(part)),
                kind::AUDIO => Content::Audio(media(part)),
                kind::VIDEO => Content::Video(media(part)),
                kind::DOCUMENT => Content::Document(media(part)),
                _ if part.data.is_empty() => Content::Text(part.text.into_string()),
                _ => Content::Document(media(part)),
            }
        }
        // Taken out of the plugin's vector in place: `into_vec` would copy it first.
        build(&mut content.parts.into_iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_content_survives_the_crossing() {
        let content = Content::Multi(vec![
            Content::text("look"),
            Content::Multi(vec![
                Content::Image(Media {
                    data: vec![0, 255, 1],
                    mime_type: "image/png".into(),
                    description: Some("a dot".into()),
                }),
                Content::Audio(Media::new(vec![9; 1000], "audio/wav")),
            ]),
            Content::Multi(Vec::new()),
            Content::Video(Media::new(Vec::new(), "video/mp4")),
            Content::Document(Media::new(b"%PDF".to_vec(), "application/pdf")),
        ]);
        assert_eq!(Content::from(FfiContent::from(&content)), content);
    }

    #[test]
    fn kinds_from_a_newer_peer_degrade_without_losing_anything() {
        let future = |kind, children, text: &str, data: &[u8]| FfiContentPart {
            kind,
            children,
            text: text.into(),
            data: RVec::from(data),
            description: ROption::RNone,
        };
        let parts = vec![
            future(kind::MULTI, 3, "", b""),
            future(900, 0, "a caption", b""),
            future(901, 0, "model/gltf", b"\x01\x02"),
            future(902, 1, "", b""),
            future(kind::TEXT, 0, "inside", b""),
        ];
        let content = Content::from(FfiContent {
            parts: RVec::from(parts),
        });
        assert_eq!(
            content,
            Content::Multi(vec![
                Content::text("a caption"),
                Content::Document(Media::new(vec![1, 2], "model/gltf")),
                Content::Multi(vec![Content::text("inside")]),
            ])
        );
    }
}
