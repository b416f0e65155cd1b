//! The encoder: [`TcfModel`] → TC string, for tests, round trips and the CLI.

use alloc::string::String;

use crate::bits::BitWriter;
use crate::error::TcfError;
use crate::model::{TcfModel, VendorSet};

const MAX_DECISECONDS: i64 = (1 << 36) - 1;
const MAX_ENTRIES: usize = 4095;

fn bad(field: &'static str, reason: &'static str) -> TcfError {
    TcfError::UnencodableField { field, reason }
}

/// Encodes `model` as a TC string (version 2, unpadded base64url).
///
/// Segments: the core, then DisclosedVendors and AllowedVendors when non-empty, then
/// PublisherTC when `num_custom_purposes` is set or any publisher purpose is listed. Each
/// vendor section uses whichever of bit field or range encoding is shorter (range encoding
/// when the set holds id 0, which a bit field cannot carry). Timestamps are rounded to
/// deciseconds. Letters are `'A'..='\u{80}'` (6-bit values 0–63; no case folding).
///
/// The result decodes back to `model` (with sorted, de-duplicated id lists).
pub fn encode(model: &TcfModel) -> Result<String, TcfError> {
    if model.version != 2 {
        return Err(bad("version", "only version 2 can be encoded"));
    }
    let mut w = BitWriter::new();
    w.write(2, 6);
    w.write(deciseconds(model.created, "created")?, 36);
    w.write(deciseconds(model.last_updated, "last_updated")?, 36);
    w.write(bounded(model.cmp_id.into(), 12, "cmp_id")?, 12);
    w.write(bounded(model.cmp_version.into(), 12, "cmp_version")?, 12);
    w.write(
        bounded(model.consent_screen.into(), 6, "consent_screen")?,
        6,
    );
    w.write(letters(&model.consent_language, "consent_language")?, 12);
    w.write(
        bounded(model.vendor_list_version.into(), 12, "vendor_list_version")?,
        12,
    );
    w.write(
        bounded(model.policy_version.into(), 6, "policy_version")?,
        6,
    );
    w.push_bit(model.is_service_specific);
    w.push_bit(model.use_non_standard_texts);
    write_id_field(
        &mut w,
        &model.special_feature_optins,
        12,
        "special_feature_optins",
    )?;
    write_id_field(&mut w, &model.purpose_consents, 24, "purpose_consents")?;
    write_id_field(
        &mut w,
        &model.purpose_legitimate_interests,
        24,
        "purpose_legitimate_interests",
    )?;
    w.push_bit(model.purpose_one_treatment);
    w.write(
        letters(&model.publisher_country_code, "publisher_country_code")?,
        12,
    );
    write_vendor_section(&mut w, &model.vendor_consents, "vendor_consents")?;
    write_vendor_section(
        &mut w,
        &model.vendor_legitimate_interests,
        "vendor_legitimate_interests",
    )?;
    if model.publisher_restrictions.len() > MAX_ENTRIES {
        return Err(bad("publisher_restrictions", "more than 4095 restrictions"));
    }
    w.write(model.publisher_restrictions.len() as u64, 12);
    for r in &model.publisher_restrictions {
        w.write(
            bounded(r.purpose_id.into(), 6, "publisher_restrictions.purpose_id")?,
            6,
        );
        w.write(
            bounded(
                r.restriction_type.into(),
                2,
                "publisher_restrictions.restriction_type",
            )?,
            2,
        );
        write_range_entries(&mut w, &r.vendors, "publisher_restrictions.vendors")?;
    }
    let mut out = w.finish();

    for (set, segment_type, field) in [
        (&model.disclosed_vendors, 1, "disclosed_vendors"),
        (&model.allowed_vendors, 2, "allowed_vendors"),
    ] {
        if !set.is_empty() {
            let mut w = BitWriter::new();
            w.write(segment_type, 3);
            write_vendor_section(&mut w, set, field)?;
            out.push('.');
            out.push_str(&w.finish());
        }
    }

    let has_publisher_tc = model.num_custom_purposes.is_some()
        || !model.publisher_purpose_consents.is_empty()
        || !model.publisher_purpose_legitimate_interests.is_empty()
        || !model.publisher_custom_purpose_consents.is_empty()
        || !model
            .publisher_custom_purpose_legitimate_interests
            .is_empty();
    if has_publisher_tc {
        let custom_max = model
            .publisher_custom_purpose_consents
            .iter()
            .chain(&model.publisher_custom_purpose_legitimate_interests)
            .copied()
            .max()
            .unwrap_or(0);
        let n = model.num_custom_purposes.unwrap_or(custom_max);
        if n > 63 {
            return Err(bad("num_custom_purposes", "more than 63"));
        }
        let mut w = BitWriter::new();
        w.write(3, 3);
        write_id_field(
            &mut w,
            &model.publisher_purpose_consents,
            24,
            "publisher_purpose_consents",
        )?;
        write_id_field(
            &mut w,
            &model.publisher_purpose_legitimate_interests,
            24,
            "publisher_purpose_legitimate_interests",
        )?;
        w.write(n.into(), 6);
        let n = usize::from(n);
        write_id_field(
            &mut w,
            &model.publisher_custom_purpose_consents,
            n,
            "publisher_custom_purpose_consents",
        )?;
        write_id_field(
            &mut w,
            &model.publisher_custom_purpose_legitimate_interests,
            n,
            "publisher_custom_purpose_legitimate_interests",
        )?;
        out.push('.');
        out.push_str(&w.finish());
    }
    Ok(out)
}

fn deciseconds(ms: i64, field: &'static str) -> Result<u64, TcfError> {
    if ms < 0 {
        return Err(bad(field, "before 1970"));
    }
    let ds = ms / 100 + i64::from(ms % 100 >= 50);
    if ds > MAX_DECISECONDS {
        return Err(bad(field, "beyond the 36-bit decisecond range"));
    }
    Ok(ds as u64)
}

fn bounded(value: u64, bits: u32, field: &'static str) -> Result<u64, TcfError> {
    if value >> bits != 0 {
        return Err(bad(field, "too large for its wire field"));
    }
    Ok(value)
}

fn letters(text: &str, field: &'static str) -> Result<u64, TcfError> {
    let mut chars = text.chars();
    let (Some(a), Some(b), None) = (chars.next(), chars.next(), chars.next()) else {
        return Err(bad(field, "not exactly two characters"));
    };
    let value = |c: char| {
        let v = u32::from(c).wrapping_sub(u32::from('A'));
        if v < 64 {
            Ok(u64::from(v))
        } else {
            Err(bad(field, "a character outside 'A'..='\\u{80}'"))
        }
    };
    Ok((value(a)? << 6) | value(b)?)
}

/// A fixed-length field where bit `id - 1` means `id`.
fn write_id_field(
    w: &mut BitWriter,
    ids: &[u8],
    len: usize,
    field: &'static str,
) -> Result<(), TcfError> {
    let mut mask = 0u64;
    for &id in ids {
        if id == 0 || usize::from(id) > len {
            return Err(bad(field, "id outside 1..=field length"));
        }
        mask |= 1 << (id - 1);
    }
    for i in 0..len {
        w.push_bit(mask >> i & 1 == 1);
    }
    Ok(())
}

fn range_entries_bits(set: &VendorSet) -> usize {
    12 + set
        .ranges()
        .map(|r| if r.start() == r.end() { 17 } else { 33 })
        .sum::<usize>()
}

fn write_vendor_section(
    w: &mut BitWriter,
    set: &VendorSet,
    field: &'static str,
) -> Result<(), TcfError> {
    let max = set.max().unwrap_or(0);
    let use_range = set.contains(0)
        || (set.range_count() <= MAX_ENTRIES && range_entries_bits(set) < usize::from(max));
    w.write(max.into(), 16);
    w.push_bit(use_range);
    if use_range {
        write_range_entries(w, set, field)
    } else {
        let mut next = 1u32;
        for r in set.ranges() {
            for _ in next..u32::from(*r.start()) {
                w.push_bit(false);
            }
            for _ in *r.start()..=*r.end() {
                w.push_bit(true);
            }
            next = u32::from(*r.end()) + 1;
        }
        Ok(())
    }
}

fn write_range_entries(
    w: &mut BitWriter,
    set: &VendorSet,
    field: &'static str,
) -> Result<(), TcfError> {
    if set.range_count() > MAX_ENTRIES {
        return Err(bad(field, "more than 4095 ranges"));
    }
    w.write(set.range_count() as u64, 12);
    for r in set.ranges() {
        let single = r.start() == r.end();
        w.push_bit(!single);
        w.write((*r.start()).into(), 16);
        if !single {
            w.write((*r.end()).into(), 16);
        }
    }
    Ok(())
}
