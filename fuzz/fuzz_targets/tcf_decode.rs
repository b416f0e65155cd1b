#![no_main]
//! Any input to the TCF decoder: parsing, the consent policy and the full decode never panic;
//! whatever decodes re-encodes to the same model; and peak heap use stays within a bound
//! proportional to the input's length (a hostile MaxVendorId or millions of claimed ids must
//! not be expanded).

use euid_fuzz::reached;
use euid_tcf::{decode, encode, ConsentPolicy, TcString};
use libfuzzer_sys::fuzz_target;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live and peak bytes of Rust heap allocations (libFuzzer's own C++ heap is not seen).
struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are only
// bookkeeping.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Bytes of heap the whole check may use beyond what was live at its start: a constant plus
/// a small multiple of the input length. Expanding one full range entry (65,535 ids) would
/// already need 128 KiB.
fn heap_bound(input_len: usize) -> usize {
    64 * 1024 + 128 * input_len
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);

    let parsed = TcString::parse(&text);
    let decoded = parsed.is_ok();
    let verdict = ConsentPolicy::default().evaluate(&text);
    assert_eq!(parsed.is_ok(), verdict.is_ok());
    if let Ok(tc) = parsed {
        assert_eq!(Ok(ConsentPolicy::default().evaluate_parsed(&tc)), verdict);
        let _ = tc.has_vendor_consent(21) || tc.has_vendor_legitimate_interest(1);
        let model = tc.decode();
        assert_eq!(decode(&text).as_ref(), Ok(&model));
        let again = encode(&model).expect("every decoded model encodes");
        assert_eq!(decode(&again), Ok(model));
    }

    let used = PEAK.load(Ordering::Relaxed).saturating_sub(start);
    assert!(
        used <= heap_bound(data.len()),
        "{used} bytes of heap for a {}-byte input",
        data.len()
    );
    // After the heap check: the first report allocates.
    if decoded {
        reached("a decoded TC string");
    }
});
