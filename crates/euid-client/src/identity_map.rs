//! Identity map (`/v2/identity/map`) and opt-out status (`/v2/optout/status`).

use std::collections::HashMap;

use serde::Deserialize;

use crate::ClientError;

/// The most raw UIDs one `/v2/optout/status` request may carry.
pub const MAX_OPTOUT_STATUS_IDS: usize = 5000;

/// Identities to map, all of one kind. Emails and phones are hashed locally before sending,
/// as the SDKs do; the answer is keyed by the inputs as given. `Debug` shows kind and count.
#[derive(Clone)]
pub struct IdentityMapInput {
    field: &'static str,
    // (as given, as sent)
    items: Vec<(String, String)>,
}

impl std::fmt::Debug for IdentityMapInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityMapInput")
            .field("field", &self.field)
            .field("count", &self.items.len())
            .finish()
    }
}

impl IdentityMapInput {
    /// Emails, normalized and hashed locally. Fails on the first invalid one.
    pub fn from_emails<S: AsRef<str>>(emails: &[S]) -> Result<Self, ClientError> {
        Self::build("email_hash", emails, |e| {
            Ok(euid_normalize::hash_email(e)?.to_base64())
        })
    }

    /// Phone numbers in E.164 form, hashed locally. Fails on the first invalid one.
    pub fn from_phones<S: AsRef<str>>(phones: &[S]) -> Result<Self, ClientError> {
        Self::build("phone_hash", phones, |p| {
            Ok(euid_normalize::hash_phone(p)?.to_base64())
        })
    }

    /// Base64 SHA-256 hashes of normalized emails, sent as given.
    pub fn from_hashed_emails<S: AsRef<str>>(hashes: &[S]) -> Result<Self, ClientError> {
        Self::build("email_hash", hashes, |h| Ok(h.to_owned()))
    }

    /// Base64 SHA-256 hashes of normalized phone numbers, sent as given.
    pub fn from_hashed_phones<S: AsRef<str>>(hashes: &[S]) -> Result<Self, ClientError> {
        Self::build("phone_hash", hashes, |h| Ok(h.to_owned()))
    }

    fn build<S: AsRef<str>>(
        field: &'static str,
        inputs: &[S],
        sent: impl Fn(&str) -> Result<String, ClientError>,
    ) -> Result<Self, ClientError> {
        let items = inputs
            .iter()
            .map(|i| Ok((i.as_ref().to_owned(), sent(i.as_ref())?)))
            .collect::<Result<_, ClientError>>()?;
        Ok(Self { field, items })
    }

    /// The request JSON: `{"email_hash":[...]}` or `{"phone_hash":[...]}`.
    pub fn to_request_json(&self) -> Vec<u8> {
        let sent: Vec<&str> = self.items.iter().map(|(_, s)| s.as_str()).collect();
        serde_json::to_vec(&serde_json::json!({ self.field: sent })).unwrap_or_default()
    }

    /// Reads the `body` of a success answer, keyed by the inputs as given.
    pub fn parse_response(
        &self,
        body: &serde_json::Value,
    ) -> Result<IdentityMapResponse, ClientError> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            mapped: Vec<RawMapped>,
            #[serde(default)]
            unmapped: Vec<RawUnmapped>,
        }
        #[derive(Deserialize)]
        struct RawMapped {
            identifier: String,
            advertising_id: String,
            bucket_id: String,
        }
        #[derive(Deserialize)]
        struct RawUnmapped {
            identifier: String,
            reason: String,
        }
        let raw = Raw::deserialize(body).map_err(|_| {
            ClientError::invalid("identity map body has missing or mistyped fields")
        })?;
        // Several inputs may hash alike (e.g. two spellings of one email): each gets the answer.
        let mut by_sent: HashMap<&str, Vec<&str>> = HashMap::new();
        for (given, sent) in &self.items {
            by_sent
                .entry(sent.as_str())
                .or_default()
                .push(given.as_str());
        }
        let given = |identifier: &str| {
            by_sent.get(identifier).cloned().ok_or_else(|| {
                ClientError::invalid("identity map answered an identifier that was not sent")
            })
        };
        let mut out = IdentityMapResponse::default();
        for m in raw.mapped {
            for g in given(&m.identifier)? {
                out.mapped.insert(
                    g.to_owned(),
                    MappedIdentity {
                        raw_uid: m.advertising_id.clone(),
                        bucket_id: m.bucket_id.clone(),
                    },
                );
            }
        }
        for u in raw.unmapped {
            for g in given(&u.identifier)? {
                out.unmapped.insert(
                    g.to_owned(),
                    UnmappedIdentity {
                        reason: u.reason.clone(),
                    },
                );
            }
        }
        Ok(out)
    }
}

/// A mapped identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedIdentity {
    /// The raw UID, standard base64.
    pub raw_uid: String,
    /// The salt bucket, to know when to remap.
    pub bucket_id: String,
}

/// An identity that was not mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmappedIdentity {
    /// `optout` or `invalid identifier`.
    pub reason: String,
}

/// The answer of an identity map, keyed by the inputs as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityMapResponse {
    /// Mapped inputs.
    pub mapped: HashMap<String, MappedIdentity>,
    /// Unmapped inputs and why.
    pub unmapped: HashMap<String, UnmappedIdentity>,
}

/// The request JSON of `/v2/optout/status`: `{"advertising_ids":[...]}`.
pub fn optout_status_request_json<S: AsRef<str>>(raw_uids: &[S]) -> Result<Vec<u8>, ClientError> {
    if raw_uids.len() > MAX_OPTOUT_STATUS_IDS {
        return Err(ClientError::InvalidInput(
            "at most 5000 raw UIDs per optout/status request",
        ));
    }
    let ids: Vec<&str> = raw_uids.iter().map(AsRef::as_ref).collect();
    Ok(serde_json::to_vec(&serde_json::json!({ "advertising_ids": ids })).unwrap_or_default())
}

/// Reads the `body` of a `/v2/optout/status` success answer: each opted-out raw UID and since
/// when (Unix ms).
pub fn parse_optout_status(body: &serde_json::Value) -> Result<HashMap<String, i64>, ClientError> {
    #[derive(Deserialize)]
    struct Raw {
        opted_out: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        advertising_id: String,
        opted_out_since: i64,
    }
    let raw = Raw::deserialize(body)
        .map_err(|_| ClientError::invalid("optout/status body has missing or mistyped fields"))?;
    Ok(raw
        .opted_out
        .into_iter()
        .map(|e| (e.advertising_id, e.opted_out_since))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_request_and_answer_are_keyed_by_the_input() {
        let input = IdentityMapInput::from_emails(&["A@example.com", "b@example.com"]).unwrap();
        let req: serde_json::Value = serde_json::from_slice(&input.to_request_json()).unwrap();
        let ha = euid_normalize::hash_email("a@example.com")
            .unwrap()
            .to_base64();
        let hb = euid_normalize::hash_email("b@example.com")
            .unwrap()
            .to_base64();
        assert_eq!(req, serde_json::json!({"email_hash": [ha, hb]}));
        let body = serde_json::json!({
            "mapped": [{"identifier": ha, "advertising_id": "UID", "bucket_id": "B"}],
            "unmapped": [{"identifier": hb, "reason": "optout"}],
        });
        let out = input.parse_response(&body).unwrap();
        assert_eq!(out.mapped["A@example.com"].raw_uid, "UID");
        assert_eq!(out.unmapped["b@example.com"].reason, "optout");
        let stray = serde_json::json!({"mapped": [{"identifier": "x", "advertising_id": "U", "bucket_id": "B"}]});
        assert!(input.parse_response(&stray).is_err());
        assert!(IdentityMapInput::from_emails(&["nope"]).is_err());
        // Two spellings of one address both get the answer.
        let twice = IdentityMapInput::from_emails(&["b@example.com", "B@Example.com "]).unwrap();
        let only_b = serde_json::json!({"unmapped": [{"identifier": hb, "reason": "optout"}]});
        let out = twice.parse_response(&only_b).unwrap();
        assert_eq!(out.unmapped.len(), 2, "{out:?}");
        assert!(!format!("{input:?}").contains("example"));
    }

    #[test]
    fn optout_status_json() {
        let req = optout_status_request_json(&["AAA", "BBB"]).unwrap();
        assert_eq!(req, br#"{"advertising_ids":["AAA","BBB"]}"#);
        assert!(optout_status_request_json(&vec!["x"; 5001]).is_err());
        let body =
            serde_json::json!({"opted_out": [{"advertising_id": "AAA", "opted_out_since": 5}]});
        assert_eq!(parse_optout_status(&body).unwrap()["AAA"], 5);
        assert!(parse_optout_status(&serde_json::json!({})).is_err());
    }
}
