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

/// A generator that produces random bytes a batch at a time; both generators here share
/// how a batch is handed out.
///
/// Fork safety: a `fork` copies the generator's memory into the child, so parent and child
/// would hand out the same buffered bytes (and, for [`FastRandom`], the same key chain): the
/// same IVs under the same keys. `#![forbid(unsafe_code)]` rules out `pthread_atfork` and
/// `MADV_WIPEONFORK`, so each generator records the process id it was seeded in and checks
/// it on every fill (one `getpid`, ~0.13 µs here); in a child the id differs, and the
/// generator drops its buffer and reseeds from the OS before handing out a byte.
trait Batched {
    /// The batch buffer and the position of its first unused byte.
    fn batch(&mut self) -> (&mut [u8; BATCH], &mut usize);
    /// Makes a fresh batch and resets the position.
    fn refill(&mut self);
    /// The process id the generator was last seeded in.
    fn seeded_in(&mut self) -> &mut u32;
    /// Forgets every buffered byte and all state derived from the old seed, and reseeds
    /// from the OS (the next `refill` makes the first fresh batch).
    fn reseed(&mut self);

    /// Copies unused bytes into `dest`, refilling as needed, and wipes what it handed out
    /// so a later memory disclosure cannot replay it.
    fn hand_out(&mut self, mut dest: &mut [u8]) {
        let pid = std::process::id();
        if *self.seeded_in() != pid {
            self.reseed();
            *self.seeded_in() = pid;
        }
        while !dest.is_empty() {
            if *self.batch().1 == BATCH {
                self.refill();
            }
            let (buf, pos) = self.batch();
            let n = dest.len().min(BATCH - *pos);
            dest[..n].copy_from_slice(&buf[*pos..*pos + n]);
            buf[*pos..*pos + n].fill(0);
            *pos += n;
            dest = &mut dest[n..];
        }
    }
}

/// OS randomness fetched 4 KiB at a time and handed out once each.
///
/// One `getrandom` call costs about as much as a whole AES-GCM request here; batching
/// amortizes it over ~340 IVs. The bytes are the OS CSPRNG's own output, consumed
/// strictly in order and never handed out twice, so the security argument is the same
/// as calling the OS per IV. Keep one per thread (it is `Send`, not shared).
///
/// Safe across `fork`: a child drops the batch it inherited (see the fork note on the
/// crate's `Batched` helper: the process id is checked on every fill).
pub struct BatchedOsRandom {
    os: SystemRandom,
    buf: Box<[u8; BATCH]>,
    pos: usize,
    pid: u32,
}

impl BatchedOsRandom {
    /// Creates an empty batch; the first `fill` pulls from the OS.
    pub fn new() -> Self {
        Self {
            os: SystemRandom::new(),
            buf: Box::new([0; BATCH]),
            pos: BATCH,
            pid: std::process::id(),
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

impl Batched for BatchedOsRandom {
    fn batch(&mut self) -> (&mut [u8; BATCH], &mut usize) {
        (&mut self.buf, &mut self.pos)
    }

    fn refill(&mut self) {
        Self::refill(self)
    }

    fn seeded_in(&mut self) -> &mut u32 {
        &mut self.pid
    }

    fn reseed(&mut self) {
        self.buf.fill(0);
        self.pos = BATCH;
    }
}

impl RandomSource for BatchedOsRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        self.hand_out(dest)
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill(&mut self, dest: &mut [u8]) {
        (**self).fill(dest)
    }
}

/// A fast CSPRNG: AES-256 in counter mode, keyed from the OS, with fast key erasure.
///
/// `getrandom` costs ~15 µs per 4 KiB on these machines, more than the AES-GCM work of a
/// whole token request. This generator produces each 4 KiB batch as the AES-256-CTR
/// keystream of a secret key (via ring's AES-GCM over zeros, whose ciphertext *is* the CTR
/// keystream), about ten times cheaper. After every batch the first 32 bytes of the output
/// become the next key and are never handed out ("fast key erasure"), so a later memory
/// disclosure cannot reconstruct earlier output; every 1,024 batches (4 MiB) the key is
/// replaced from the OS again. The output is indistinguishable from random as long as AES
/// is a pseudorandom permutation — the same assumption AES-GCM itself rests on.
///
/// Safe across `fork`: the generator remembers the process id it was keyed in and checks it
/// on every fill; a forked child (whose id differs) throws away the inherited batch and key
/// and rekeys from the OS before its first byte, so parent and child never share output.
/// The check cannot be unit-tested with a real `fork` without `unsafe`; the tests simulate a
/// child by changing the recorded id. Keep one generator per thread (it is `Send`, not
/// shared).
pub struct FastRandom {
    os: SystemRandom,
    key: ring::aead::LessSafeKey,
    buf: Box<[u8; BATCH]>,
    pos: usize,
    batches_since_reseed: u32,
    pid: u32,
}

const RESEED_EVERY_BATCHES: u32 = 1024;
const KEY_LEN: usize = 32;

impl FastRandom {
    /// Creates a generator keyed from the operating system's CSPRNG.
    pub fn new() -> Self {
        let os = SystemRandom::new();
        let key = Self::os_key(&os);
        Self {
            os,
            key,
            buf: Box::new([0; BATCH]),
            pos: BATCH,
            batches_since_reseed: 0,
            pid: std::process::id(),
        }
    }

    fn os_key(os: &SystemRandom) -> ring::aead::LessSafeKey {
        let mut seed = zeroize::Zeroizing::new([0u8; KEY_LEN]);
        os.fill(&mut seed[..])
            .expect("operating system randomness unavailable");
        Self::key_from(&seed[..])
    }

    fn key_from(bytes: &[u8]) -> ring::aead::LessSafeKey {
        let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, bytes)
            .expect("32-byte AES-256 key");
        ring::aead::LessSafeKey::new(unbound)
    }

    fn refill(&mut self) {
        if self.batches_since_reseed >= RESEED_EVERY_BATCHES {
            self.key = Self::os_key(&self.os);
            self.batches_since_reseed = 0;
        }
        self.buf.fill(0);
        // Each key is used for exactly one batch, so a fixed nonce never repeats under a key.
        // The tag is not keystream; only the ciphertext of zeros is.
        let _tag = self
            .key
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key([0; 12]),
                ring::aead::Aad::empty(),
                &mut self.buf[..],
            )
            .expect("4 KiB is under the GCM limit");
        self.key = Self::key_from(&self.buf[..KEY_LEN]);
        self.buf[..KEY_LEN].fill(0);
        self.pos = KEY_LEN;
        self.batches_since_reseed += 1;
    }
}

impl Default for FastRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for FastRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FastRandom")
    }
}

impl Batched for FastRandom {
    fn batch(&mut self) -> (&mut [u8; BATCH], &mut usize) {
        (&mut self.buf, &mut self.pos)
    }

    fn refill(&mut self) {
        Self::refill(self)
    }

    fn seeded_in(&mut self) -> &mut u32 {
        &mut self.pid
    }

    fn reseed(&mut self) {
        self.key = Self::os_key(&self.os);
        self.buf.fill(0);
        self.pos = BATCH;
        self.batches_since_reseed = 0;
    }
}

impl RandomSource for FastRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        self.hand_out(dest)
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
    fn fast_random_never_repeats_and_looks_uniform() {
        let mut rng = FastRandom::new();
        let mut seen = std::collections::HashSet::new();
        // Crosses several batch boundaries and a reseed-free key chain.
        for _ in 0..5000 {
            let mut iv = [0u8; 12];
            rng.fill(&mut iv);
            assert!(seen.insert(iv), "IV repeated");
        }
        let mut big = vec![0u8; 1 << 16];
        rng.fill(&mut big);
        let ones: u32 = big.iter().map(|b| b.count_ones()).sum();
        let bits = (big.len() * 8) as f64;
        // Within ~10 standard deviations of half the bits.
        assert!((f64::from(ones) - bits / 2.0).abs() < 10.0 * (bits / 4.0).sqrt());
    }

    #[test]
    fn fast_random_reseeds_from_the_os() {
        let mut rng = FastRandom::new();
        let mut sink = vec![0u8; BATCH * (RESEED_EVERY_BATCHES as usize + 2)];
        rng.fill(&mut sink);
        assert!(rng.batches_since_reseed < RESEED_EVERY_BATCHES);
        // Two generators never produce the same stream.
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        FastRandom::new().fill(&mut a);
        FastRandom::new().fill(&mut b);
        assert_ne!(a, b);
    }

    /// Two generators in the state a `fork` leaves parent and child in: the same key and
    /// buffer, both recording the id of the process that seeded them.
    fn forked_fast_pair() -> (FastRandom, FastRandom) {
        let seed = [7u8; KEY_LEN];
        let make = || FastRandom {
            os: SystemRandom::new(),
            key: FastRandom::key_from(&seed),
            buf: Box::new([0; BATCH]),
            pos: BATCH,
            batches_since_reseed: 0,
            pid: std::process::id(),
        };
        (make(), make())
    }

    /// What the child sees after a real fork: its process id is no longer the recorded one.
    /// (A real `fork` needs `unsafe`, which the crate forbids.)
    fn become_child(rng_pid: &mut u32) {
        *rng_pid = std::process::id().wrapping_add(1);
    }

    #[test]
    fn fast_random_reseeds_in_a_forked_child() {
        let (mut parent, mut child) = forked_fast_pair();
        // Same state, same stream: the hazard a fork creates, mid-batch.
        let (mut a, mut b) = ([0u8; 100], [0u8; 100]);
        parent.fill(&mut a);
        child.fill(&mut b);
        assert_eq!(a, b);
        become_child(&mut child.pid);
        parent.fill(&mut a);
        child.fill(&mut b);
        assert_ne!(a, b, "a forked child repeated its parent's bytes");
        assert_eq!(child.pid, std::process::id());
        assert_eq!(
            child.batches_since_reseed, 1,
            "the child rekeyed from the OS"
        );
        // And keeps going from its own key, still unlike the parent.
        let (mut c, mut d) = ([0u8; BATCH], [0u8; BATCH]);
        parent.fill(&mut c);
        child.fill(&mut d);
        assert_ne!(c[..], d[..]);
    }

    #[test]
    fn batched_os_random_drops_its_batch_in_a_forked_child() {
        let mut parent = BatchedOsRandom::new();
        let mut warm = [0u8; 40];
        parent.fill(&mut warm);
        let mut child = BatchedOsRandom::new();
        child.buf.copy_from_slice(&parent.buf[..]);
        child.pos = parent.pos;
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        parent.fill(&mut a);
        child.fill(&mut b);
        assert_eq!(a, b);
        become_child(&mut child.pid);
        parent.fill(&mut a);
        child.fill(&mut b);
        assert_ne!(a, b, "a forked child repeated its parent's bytes");
        assert_eq!(child.pid, std::process::id());
        assert_eq!(child.pos, 32, "the child started a fresh batch");
    }

    #[test]
    fn fills_requests_larger_than_a_batch() {
        let mut rng = BatchedOsRandom::new();
        let mut big = vec![0u8; BATCH * 2 + 5];
        rng.fill(&mut big);
        assert!(big.iter().filter(|&&b| b == 0).count() < big.len() / 16);
    }
}
