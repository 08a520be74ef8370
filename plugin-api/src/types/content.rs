use serde::{Deserialize, Serialize};

/// Binary media with its MIME type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// In JSON (a saved conversation), a base64 string: under half the size of a list
    /// of numbers. A list of numbers is read too.
    #[serde(with = "super::base64_bytes")]
    pub data: Vec<u8>,
    pub mime_type: String,
    pub description: Option<String>,
}

impl Media {
    pub fn new(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Media {
            data: data.into(),
            mime_type: mime_type.into(),
            description: None,
        }
    }
}

/// What a user or a model says: text, media, or several of them. More kinds (media
/// types) may come in a minor version: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Content {
    Text(String),
    Image(Media),
    Document(Media),
    Audio(Media),
    Video(Media),
    Multi(Vec<Content>),
}

impl Content {
    pub fn text(text: impl Into<String>) -> Self {
        Content::Text(text.into())
    }

    /// All the text parts joined with newlines; media parts contribute nothing.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        match self {
            Content::Text(text) => {
                if !out.is_empty() && !text.is_empty() {
                    out.push('\n');
                }
                out.push_str(text);
            }
            Content::Multi(parts) => parts.iter().for_each(|part| part.collect_text(out)),
            Content::Image(_) | Content::Document(_) | Content::Audio(_) | Content::Video(_) => {}
        }
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::Text(text.to_owned())
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Content::Text(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_text_skips_media() {
        let content = Content::Multi(vec![
            Content::text("a"),
            Content::Image(Media::new(vec![1, 2], "image/png")),
            Content::text("b"),
        ]);
        assert_eq!(content.to_text(), "a\nb");
    }
}
