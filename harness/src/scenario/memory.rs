//! Sizes in scenarios: `"32 GiB"`, a number of bytes, or `"auto"` for a forecast.

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

/// Memory request of a stage's jobs: bytes, or `"auto"` (forecast from measurements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryRequest {
    /// Forecast from a calibration job or earlier runs.
    Auto,
    /// A fixed request.
    Bytes(ByteSize),
}

impl Serialize for MemoryRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => s.serialize_str("auto"),
            Self::Bytes(b) => b.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MemoryRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) if t.trim() == "auto" => Ok(Self::Auto),
            Raw::Text(t) => match t.parse::<ByteSize>() {
                // The parser saturates instead of overflowing.
                Ok(b) if b.0 == u64::MAX => Err(serde::de::Error::custom(format!(
                    "memory `{t}`: larger than 16 EiB, the most a 64-bit size can hold"
                ))),
                Ok(b) => Ok(Self::Bytes(b)),
                Err(e) => Err(serde::de::Error::custom(format!(
                    "memory `{t}`: {e} (e.g. \"2 GiB\" or \"auto\")"
                ))),
            },
            Raw::Number(n) => Ok(Self::Bytes(ByteSize(n))),
        }
    }
}

pub(super) fn bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
    match MemoryRequest::deserialize(d)? {
        MemoryRequest::Bytes(b) => Ok(b),
        MemoryRequest::Auto => Err(serde::de::Error::custom(
            "a node's memory must be a size, e.g. \"32 GiB\"",
        )),
    }
}
