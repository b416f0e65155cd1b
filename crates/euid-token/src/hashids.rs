//! The Hashids encoding of one number, which the live operator uses to turn a salt bucket's
//! numeric id into its public `bucket_id` (`wire.md` §3). Written from the published algorithm
//! (default alphabet and separators); only encoding a single non-negative number is needed.

const DEFAULT_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890";
const DEFAULT_SEPARATORS: &[u8] = b"cfhistuCFHISTU";
const SEPARATOR_RATIO: f64 = 3.5;
const GUARD_RATIO: f64 = 12.0;

/// A prepared Hashids encoder: the salted alphabet, separators and guards are computed once.
#[derive(Clone)]
pub(crate) struct BucketIdEncoder {
    salt: Vec<u8>,
    alphabet: Vec<u8>,
    guards: Vec<u8>,
    min_length: usize,
}

/// Reorders `chars` deterministically from `salt`.
fn shuffle(chars: &mut [u8], salt: &[u8]) {
    if salt.is_empty() || chars.len() < 2 {
        return;
    }
    let mut v = 0usize;
    let mut p = 0usize;
    for i in (1..chars.len()).rev() {
        v %= salt.len();
        let c = usize::from(salt[v]);
        p += c;
        let j = (c + v + p) % i;
        chars.swap(i, j);
        v += 1;
    }
}

impl BucketIdEncoder {
    /// Prepares the encoder for `salt` with the given minimum output length.
    pub(crate) fn new(salt: &str, min_length: usize) -> Self {
        let salt = salt.as_bytes().to_vec();
        let mut separators: Vec<u8> = DEFAULT_SEPARATORS.to_vec();
        let mut alphabet: Vec<u8> = DEFAULT_ALPHABET
            .iter()
            .copied()
            .filter(|c| !DEFAULT_SEPARATORS.contains(c))
            .collect();
        shuffle(&mut separators, &salt);
        // The default sets keep alphabet/separators under the ratio, so this never trims.
        let wanted = (alphabet.len() as f64 / SEPARATOR_RATIO).ceil() as usize;
        if alphabet.len() as f64 / separators.len() as f64 > SEPARATOR_RATIO {
            let wanted = wanted.max(2);
            if wanted > separators.len() {
                let extra = wanted - separators.len();
                separators.extend(alphabet.drain(..extra));
            } else {
                separators.truncate(wanted);
            }
        }
        shuffle(&mut alphabet, &salt);
        let guard_count = (alphabet.len() as f64 / GUARD_RATIO).ceil() as usize;
        let guards: Vec<u8> = alphabet.drain(..guard_count).collect();
        Self {
            salt,
            alphabet,
            guards,
            min_length,
        }
    }

    /// Encodes one number.
    pub(crate) fn encode(&self, number: u64) -> String {
        let mut alphabet = self.alphabet.clone();
        let len = alphabet.len();
        let number_hash = (number % 100) as usize;
        let lottery = alphabet[number_hash % len];

        let mut key = Vec::with_capacity(len);
        key.push(lottery);
        key.extend_from_slice(&self.salt);
        key.extend_from_slice(&alphabet);
        key.truncate(len);
        shuffle(&mut alphabet, &key);

        let mut digits = Vec::new();
        let mut rest = number;
        loop {
            digits.push(alphabet[(rest % len as u64) as usize]);
            rest /= len as u64;
            if rest == 0 {
                break;
            }
        }
        let mut out: Vec<u8> = Vec::with_capacity(self.min_length.max(digits.len() + 3));
        out.push(lottery);
        out.extend(digits.iter().rev());

        if out.len() < self.min_length && !self.guards.is_empty() {
            let g = (number_hash + usize::from(out[0])) % self.guards.len();
            out.insert(0, self.guards[g]);
            if out.len() < self.min_length {
                let g = (number_hash + usize::from(out[2])) % self.guards.len();
                out.push(self.guards[g]);
            }
        }
        let half = len / 2;
        while out.len() < self.min_length {
            let salt = alphabet.clone();
            shuffle(&mut alphabet, &salt);
            let mut grown = Vec::with_capacity(out.len() + len);
            grown.extend_from_slice(&alphabet[half..]);
            grown.extend_from_slice(&out);
            grown.extend_from_slice(&alphabet[..half]);
            let excess = grown.len().saturating_sub(self.min_length);
            if excess > 0 {
                let start = excess / 2;
                grown = grown[start..start + self.min_length].to_vec();
            }
            out = grown;
        }
        // Every byte comes from the ASCII alphabet.
        out.into_iter().map(char::from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers from the independent Python `hashids` package (1.3.1).
    #[test]
    fn matches_reference_implementation() {
        let e = BucketIdEncoder::new("HF6Qz42HBbVHINxhh191dB09BCuTWyBkNtrNicO4ZCw=", 9);
        for (n, want) in [
            (0, "yLKaod5RD"),
            (1, "Vg1aZMPB0"),
            (2, "GNv3W0PAe"),
            (1_000_000, "KaoveQoPR"),
            (1_000_001, "1aZVGl7aB"),
            (1_048_575, "ka0r2EG3X"),
            (123_456_789, "1aZG670W5"),
            (9_007_199_254_740_991, "yGXooVokWbo"),
        ] {
            assert_eq!(e.encode(n), want, "{n}");
        }
        let e = BucketIdEncoder::new("", 9);
        assert_eq!(e.encode(0), "WjnegYbwZ");
        assert_eq!(e.encode(1), "VolejRejN");
        assert_eq!(e.encode(1_000_000), "negQ3E6bw");
        let e = BucketIdEncoder::new("x", 0);
        assert_eq!(e.encode(0), "KP");
        assert_eq!(e.encode(5), "el");
        assert_eq!(e.encode(1_000_000), "Kk8xJ");
    }
}
