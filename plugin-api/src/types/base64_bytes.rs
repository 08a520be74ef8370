//! `Media.data` in JSON: written as a base64 string, read from one or from a list of
//! byte values (serde's default for `Vec<u8>`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&STANDARD.encode(bytes))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_any(BytesVisitor)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("base64 text or a list of bytes")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
        STANDARD
            .decode(text)
            .map_err(|error| E::custom(format!("media data is not base64: {error}")))
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use crate::types::Media;

    #[test]
    fn media_data_is_base64_in_json_and_a_list_still_reads() {
        let media = Media::new(vec![0, 1, 2, 250], "image/png");
        let json = serde_json::to_string(&media).unwrap();
        assert!(json.contains(r#""data":"AAEC+g==""#), "{json}");
        assert_eq!(serde_json::from_str::<Media>(&json).unwrap(), media);
        let listed = r#"{"data":[0,1,2,250],"mime_type":"image/png","description":null}"#;
        assert_eq!(serde_json::from_str::<Media>(listed).unwrap(), media);
        let bad = r#"{"data":"not base64!","mime_type":"image/png","description":null}"#;
        let error = serde_json::from_str::<Media>(bad).unwrap_err().to_string();
        assert!(error.contains("media data is not base64"), "{error}");
    }
}
