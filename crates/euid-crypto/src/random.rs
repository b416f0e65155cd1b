use ring::rand::{SecureRandom, SystemRandom};

/// A source of cryptographically secure random bytes (IVs, nonces, fresh keys).
///
/// Core crates take `&mut impl RandomSource` so callers decide where randomness comes
/// from; tests pass a deterministic source to reproduce golden vectors.
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

const BATCH: usize = 4096;

/// OS randomness fetched 4 KiB at a time and handed out once each.
///
/// One `getrandom` call costs about as much as a whole AES-GCM request here; batching
/// amortizes it over ~340 IVs. The bytes are the OS CSPRNG's own output, consumed
/// strictly in order and never handed out twice, so the security argument is the same
/// as calling the OS per IV. Keep one per thread (it is `Send`, not shared).
pub struct BatchedOsRandom {
    os: SystemRandom,
    buf: Box<[u8; BATCH]>,
    pos: usize,
}

impl BatchedOsRandom {
    /// Creates an empty batch; the first `fill` pulls from the OS.
    pub fn new() -> Self {
        Self {
            os: SystemRandom::new(),
            buf: Box::new([0; BATCH]),
            pos: BATCH,
        }
    }

    fn refill(&mut self) {
        // The OS generator failing is unrecoverable: issuing a predictable IV would be worse.
        self.os
            .fill(&mut self.buf[..])
            .expect("operating system randomness unavailable");
        self.pos = 0;
    }
}

impl Default for BatchedOsRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for BatchedOsRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchedOsRandom")
    }
}

impl RandomSource for BatchedOsRandom {
    fn fill(&mut self, mut dest: &mut [u8]) {
        while !dest.is_empty() {
            if self.pos == BATCH {
                self.refill();
            }
            let n = dest.len().min(BATCH - self.pos);
            dest[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            // Wipe what was handed out so a later memory disclosure cannot replay it.
            self.buf[self.pos..self.pos + n].fill(0);
            self.pos += n;
            dest = &mut dest[n..];
        }
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill(&mut self, dest: &mut [u8]) {
        (**self).fill(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_repeats_across_batches() {
        let mut rng = BatchedOsRandom::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let mut iv = [0u8; 12];
            rng.fill(&mut iv);
            assert!(seen.insert(iv), "IV repeated");
        }
    }

    #[test]
    fn fills_requests_larger_than_a_batch() {
        let mut rng = BatchedOsRandom::new();
        let mut big = vec![0u8; BATCH * 2 + 5];
        rng.fill(&mut big);
        assert!(big.iter().filter(|&&b| b == 0).count() < big.len() / 16);
    }
}
