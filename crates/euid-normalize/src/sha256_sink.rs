use ring::digest;

use crate::identity_hash::SHA256_IDENTITY_HASH_LEN;

/// Stack buffer size: any realistic email (RFC 5321 caps them at 254 bytes) is hashed
/// with a single `update` call; longer input is flushed in chunks, never allocated.
const BUFFER_LEN: usize = 256;

/// Collects output in a stack buffer, lowercases its ASCII letters in one pass and feeds
/// it to SHA-256: hashing an email never allocates, and ring sees one contiguous slice
/// instead of many tiny pieces.
pub(crate) struct LowercasingSha256Sink {
    context: digest::Context,
    buffer: [u8; BUFFER_LEN],
    filled: usize,
}

impl LowercasingSha256Sink {
    pub(crate) fn new() -> Self {
        Self {
            context: digest::Context::new(&digest::SHA256),
            buffer: [0; BUFFER_LEN],
            filled: 0,
        }
    }

    pub(crate) fn push_bytes(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let free = &mut self.buffer[self.filled..];
            let take = free.len().min(bytes.len());
            let (now, later) = bytes.split_at(take);
            free[..take].copy_from_slice(now);
            self.filled += take;
            bytes = later;
            if self.filled == BUFFER_LEN {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        let pending = &mut self.buffer[..self.filled];
        // Only A-Z change; UTF-8 lead and continuation bytes are all >= 0x80.
        pending.make_ascii_lowercase();
        self.context.update(pending);
        self.filled = 0;
    }

    pub(crate) fn finish(mut self) -> [u8; SHA256_IDENTITY_HASH_LEN] {
        self.flush();
        sha256_array(self.context.finish())
    }
}

/// SHA-256 of `bytes` in one call.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; SHA256_IDENTITY_HASH_LEN] {
    sha256_array(digest::digest(&digest::SHA256, bytes))
}

fn sha256_array(digest: digest::Digest) -> [u8; SHA256_IDENTITY_HASH_LEN] {
    let mut out = [0u8; SHA256_IDENTITY_HASH_LEN];
    // A SHA-256 digest is always 32 bytes.
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_input_hashes_like_one_shot_of_the_lowercased_input() {
        let data: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 251) as u8).collect();
        let lowered = data.to_ascii_lowercase();
        assert_ne!(lowered, data, "the data must contain uppercase letters");
        // Piece sizes straddle the buffer: small, exactly full, larger than the buffer.
        for piece in [1, 3, 255, 256, 257, 700] {
            let mut sink = LowercasingSha256Sink::new();
            for chunk in data.chunks(piece) {
                sink.push_bytes(chunk);
            }
            assert_eq!(sink.finish(), sha256(&lowered), "piece size {piece}");
        }
    }

    #[test]
    fn empty_input_is_the_empty_hash() {
        // SHA-256("") from FIPS 180-2.
        let expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let hex: String = LowercasingSha256Sink::new()
            .finish()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
    }
}
