//! The date-times `/v2/identity/buckets` reads and writes: ISO 8601 local date-times taken as
//! UTC (Java's `ISO_LOCAL_DATE_TIME`, strict), and `yyyy-MM-ddTHH:mm:ss.SSS`.

const DAY_MS: i64 = 86_400_000;

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count from 1970-01-01: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DDThh:mm[:ss[.f…]]` (1–9 fraction digits, no zone, dates checked
/// strictly) as UTC, to Unix ms; a fraction finer than a millisecond is truncated.
pub(crate) fn parse_local_date_time_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':')) {
        return None;
    }
    let (hour, minute) = (digits(11, 2)?, digits(14, 2)?);
    let mut at = 16;
    let mut second = 0;
    let mut nanos = 0u32;
    if sep(at, b':') {
        second = digits(at + 1, 2)?;
        at += 3;
        if sep(at, b'.') {
            let fraction = &b[at + 1..];
            let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 || len > 9 {
                return None;
            }
            nanos = digits(at + 1, len)? * 10u32.pow(9 - len as u32);
            at += 1 + len;
        }
    }
    if at != b.len() {
        return None;
    }
    let year = i64::from(year);
    if month == 0 || month > 12 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let seconds = i64::from(hour * 3600 + minute * 60 + second);
    Some(days_from_civil(year, month, day) * DAY_MS + seconds * 1000 + i64::from(nanos / 1_000_000))
}

/// Unix ms as `yyyy-MM-ddTHH:mm:ss.SSS` in UTC (years outside 0–9999 as plain numbers).
pub(crate) fn format_utc_ms(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MS));
    let in_day = ms.rem_euclid(DAY_MS);
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_iso_local_date_time_accepts() {
        let base = 1_767_225_600_000; // 2026-01-01T00:00Z
        for (text, ms) in [
            ("2026-01-01T00:00:00", base),
            ("2026-01-01T00:00", base),
            ("2026-01-01T00:00:00.5", base + 500),
            ("2026-01-01T00:00:00.123456789", base + 123),
            ("2026-01-01T00:00:01.000999", base + 1000),
            ("2024-02-29T23:59:59.999", 1_709_251_199_999),
            ("1970-01-01T00:00:00", 0),
        ] {
            assert_eq!(parse_local_date_time_ms(text), Some(ms), "{text}");
        }
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00+00:00",
            "2026-01-01 00:00:00",
            "2026-01-01T00:00:00.",
            "2026-01-01T00:00:00.1234567890",
            "2026-13-01T00:00:00",
            "2025-02-29T00:00:00",
            "2026-04-31T00:00:00",
            "2026-01-01T24:00:00",
            "2026-01-01T00:60:00",
            "2026-01-01T00:00:60",
            "2026-1-01T00:00:00",
            "+026-01-01T00:00:00",
            "2026-01-01T00:00:0١",
        ] {
            assert_eq!(parse_local_date_time_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_with_three_fraction_digits_and_round_trips() {
        assert_eq!(format_utc_ms(0), "1970-01-01T00:00:00.000");
        assert_eq!(format_utc_ms(1_709_251_199_999), "2024-02-29T23:59:59.999");
        assert_eq!(format_utc_ms(1_806_364_800_001), "2027-03-30T00:00:00.001");
        for ms in [0, 1, 951_782_400_000, 1_709_251_199_999, 4_102_444_800_000] {
            assert_eq!(parse_local_date_time_ms(&format_utc_ms(ms)), Some(ms));
        }
    }
}
