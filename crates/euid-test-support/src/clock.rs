//! The real clock, as the operator and the SDKs read it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (the unit of every time on the wire).
pub fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_millis()).expect("milliseconds fit an i64")
}
