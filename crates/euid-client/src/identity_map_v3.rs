//! The request and answer model of `/v3/identity/map` (sans-IO; the euid-rs operator does
//! not serve it yet, issue #18).
//!
//! One request mixes emails and phones; each answer array matches its request array by
//! position. A mapped element is `{"u": raw UID, "p": previous raw UID or null, "r": refresh
//! time}`, an unmapped one `{"e": reason}`. `r` is taken as Unix **seconds**, as the spec
//! (`wire.md` §7) and the Python SDK read it.

use serde::Deserialize;

use crate::ClientError;

/// The most identities per request the EUID docs allow.
pub const MAX_IDENTITY_MAP_V3_BATCH: usize = 5000;

const FIELDS: [&str; 2] = ["email_hash", "phone_hash"];

/// Emails, phones and their hashes to map in one or more v3 requests, hashed locally (as the
/// SDKs do). Keeps the inputs as given, in order. `Debug` shows counts only.
#[derive(Clone, Default)]
pub struct IdentityMapV3Input {
    // Per field of FIELDS: (as given, as sent), in input order.
    items: [Vec<(String, String)>; 2],
}

impl std::fmt::Debug for IdentityMapV3Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityMapV3Input")
            .field("email_hash", &self.items[0].len())
            .field("phone_hash", &self.items[1].len())
            .finish()
    }
}

impl IdentityMapV3Input {
    /// An empty input.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an email (normalized and hashed here).
    pub fn with_email(mut self, email: &str) -> Result<Self, ClientError> {
        self.push_email(email)?;
        Ok(self)
    }

    /// Adds a phone number in E.164 form (hashed here).
    pub fn with_phone(mut self, phone: &str) -> Result<Self, ClientError> {
        self.push_phone(phone)?;
        Ok(self)
    }

    /// Adds a base64 SHA-256 email hash, sent as given.
    pub fn with_hashed_email(mut self, hash: &str) -> Result<Self, ClientError> {
        self.push_hashed_email(hash)?;
        Ok(self)
    }

    /// Adds a base64 SHA-256 phone hash, sent as given.
    pub fn with_hashed_phone(mut self, hash: &str) -> Result<Self, ClientError> {
        self.push_hashed_phone(hash)?;
        Ok(self)
    }

    /// [`Self::with_email`] in place: an invalid email is refused and the input stays as it
    /// was, so a long list can skip bad lines without rebuilding the input.
    pub fn push_email(&mut self, email: &str) -> Result<(), ClientError> {
        let hash = euid_normalize::hash_email(email)?.to_base64();
        self.items[0].push((email.to_owned(), hash));
        Ok(())
    }

    /// [`Self::with_phone`] in place.
    pub fn push_phone(&mut self, phone: &str) -> Result<(), ClientError> {
        let hash = euid_normalize::hash_phone(phone)?.to_base64();
        self.items[1].push((phone.to_owned(), hash));
        Ok(())
    }

    /// [`Self::with_hashed_email`] in place.
    pub fn push_hashed_email(&mut self, hash: &str) -> Result<(), ClientError> {
        euid_normalize::parse_email_hash(hash)?;
        self.items[0].push((hash.to_owned(), hash.to_owned()));
        Ok(())
    }

    /// [`Self::with_hashed_phone`] in place.
    pub fn push_hashed_phone(&mut self, hash: &str) -> Result<(), ClientError> {
        euid_normalize::parse_phone_hash(hash)?;
        self.items[1].push((hash.to_owned(), hash.to_owned()));
        Ok(())
    }

    /// How many identities the input holds.
    pub fn len(&self) -> usize {
        self.items.iter().map(Vec::len).sum()
    }

    /// Whether the input is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Splits into inputs of at most `max` identities each (at least 1), keeping the order
    /// within each kind.
    pub fn into_batches(self, max: usize) -> Vec<Self> {
        let max = max.max(1);
        let mut batches = Vec::new();
        let mut current = Self::default();
        for (field, items) in self.items.into_iter().enumerate() {
            for item in items {
                if current.len() == max {
                    batches.push(std::mem::take(&mut current));
                }
                current.items[field].push(item);
            }
        }
        if !current.is_empty() {
            batches.push(current);
        }
        batches
    }

    /// The request JSON: `{"email_hash":[...],"phone_hash":[...]}`.
    pub fn to_request_json(&self) -> Vec<u8> {
        let mut map = serde_json::Map::new();
        for (field, items) in FIELDS.iter().zip(&self.items) {
            let sent: Vec<&str> = items.iter().map(|(_, s)| s.as_str()).collect();
            map.insert((*field).to_owned(), sent.into());
        }
        serde_json::to_vec(&map).unwrap_or_default()
    }

    /// Reads the `body` of a success answer: one result per input, emails first, each kind
    /// in input order. An answer array whose length differs from the request's is an error.
    pub fn parse_response(
        &self,
        body: &serde_json::Value,
    ) -> Result<Vec<IdentityMapV3Result>, ClientError> {
        #[derive(Deserialize)]
        struct Element {
            #[serde(default)]
            u: Option<String>,
            #[serde(default)]
            p: Option<String>,
            #[serde(default)]
            r: Option<i64>,
            #[serde(default)]
            e: Option<String>,
        }
        let mut out = Vec::with_capacity(self.len());
        for (field, items) in FIELDS.iter().zip(&self.items) {
            let answered: Vec<Element> = match body.get(*field) {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(v) => Vec::deserialize(v).map_err(|_| {
                    ClientError::invalid(format!("{field} has missing or mistyped fields"))
                })?,
            };
            if answered.len() != items.len() {
                return Err(ClientError::invalid(format!(
                    "{field}: {} answers for {} inputs",
                    answered.len(),
                    items.len()
                )));
            }
            for ((given, _), element) in items.iter().zip(answered) {
                let outcome = match element {
                    Element {
                        e: Some(reason), ..
                    } => IdentityMapV3Outcome::Unmapped(UnmappedReason::from_wire(&reason)),
                    Element {
                        u: Some(current),
                        r: Some(refresh_from_s),
                        p,
                        ..
                    } => IdentityMapV3Outcome::Mapped {
                        current_raw_uid: current,
                        previous_raw_uid: p,
                        refresh_from_s,
                    },
                    _ => {
                        return Err(ClientError::invalid(format!(
                            "{field}: an element has neither \"e\" nor \"u\" and \"r\""
                        )))
                    }
                };
                out.push(IdentityMapV3Result {
                    input: given.clone(),
                    outcome,
                });
            }
        }
        Ok(out)
    }
}

/// One input's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityMapV3Result {
    /// The input as given.
    pub input: String,
    /// Mapped or not.
    pub outcome: IdentityMapV3Outcome,
}

/// Mapped, with the raw UIDs and refresh time, or unmapped with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityMapV3Outcome {
    /// Mapped.
    Mapped {
        /// The current raw UID, standard base64.
        current_raw_uid: String,
        /// The raw UID before the last salt rotation, if within 90 days.
        previous_raw_uid: Option<String>,
        /// When to map again, Unix seconds.
        refresh_from_s: i64,
    },
    /// Not mapped.
    Unmapped(UnmappedReason),
}

/// Why an identity was not mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnmappedReason {
    /// The user opted out.
    OptOut,
    /// The input is not a valid email, phone or hash.
    InvalidIdentifier,
    /// A reason this version does not know, as sent.
    Unknown(String),
}

impl UnmappedReason {
    fn from_wire(reason: &str) -> Self {
        match reason {
            "optout" => Self::OptOut,
            "invalid identifier" => Self::InvalidIdentifier,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> IdentityMapV3Input {
        IdentityMapV3Input::new()
            .with_email("User@Example.com")
            .unwrap()
            .with_phone("+12345678901")
            .unwrap()
            .with_email("optout@example.com")
            .unwrap()
            .with_hashed_email("tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=")
            .unwrap()
    }

    #[test]
    fn request_json_holds_hashes_in_input_order() {
        let v: serde_json::Value = serde_json::from_slice(&input().to_request_json()).unwrap();
        let user = euid_normalize::hash_email("user@example.com")
            .unwrap()
            .to_base64();
        let optout = euid_normalize::hash_email("optout@example.com")
            .unwrap()
            .to_base64();
        let phone = euid_normalize::hash_phone("+12345678901")
            .unwrap()
            .to_base64();
        assert_eq!(
            v,
            serde_json::json!({
                "email_hash": [user, optout, "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="],
                "phone_hash": [phone],
            })
        );
        assert!(IdentityMapV3Input::new().with_email("nope").is_err());
        assert!(IdentityMapV3Input::new().with_phone("123").is_err());
        assert!(IdentityMapV3Input::new().with_hashed_email("abc").is_err());
        // A refused push leaves the input as it was.
        let mut pushed = IdentityMapV3Input::new();
        pushed.push_email("User@Example.com").unwrap();
        assert!(pushed.push_email("nope").is_err());
        assert!(pushed.push_phone("123").is_err());
        assert!(pushed.push_hashed_phone("abc").is_err());
        assert_eq!(pushed.len(), 1);
        assert_eq!(
            pushed.to_request_json(),
            IdentityMapV3Input::new()
                .with_email("User@Example.com")
                .unwrap()
                .to_request_json()
        );
        assert!(!format!("{:?}", input()).contains("example"));
    }

    #[test]
    fn answers_are_matched_by_position() {
        // The documented answer shape (all four keys; "p" null when there is none).
        let body = serde_json::json!({
            "email": [], "phone": [],
            "email_hash": [
                {"u": "AdvIvSiaum0P5s3X/7X8h8sz+OhF2IG8DNbEnkWSbYM=", "p": "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=", "r": 1735689600},
                {"e": "optout"},
                {"u": "IbW4n6LIvtDj/8fCESlU0QG9K/fH63UdcTkJpAG8fIQ=", "p": null, "r": 1735862400},
            ],
            "phone_hash": [{"e": "SOME_NEW_REASON"}],
        });
        let out = input().parse_response(&body).unwrap();
        let inputs: Vec<&str> = out.iter().map(|r| r.input.as_str()).collect();
        assert_eq!(
            inputs,
            [
                "User@Example.com",
                "optout@example.com",
                "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=",
                "+12345678901"
            ]
        );
        assert_eq!(
            out[0].outcome,
            IdentityMapV3Outcome::Mapped {
                current_raw_uid: "AdvIvSiaum0P5s3X/7X8h8sz+OhF2IG8DNbEnkWSbYM=".into(),
                previous_raw_uid: Some("EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=".into()),
                refresh_from_s: 1_735_689_600,
            }
        );
        assert_eq!(
            out[1].outcome,
            IdentityMapV3Outcome::Unmapped(UnmappedReason::OptOut)
        );
        assert!(matches!(
            &out[2].outcome,
            IdentityMapV3Outcome::Mapped {
                previous_raw_uid: None,
                ..
            }
        ));
        assert_eq!(
            out[3].outcome,
            IdentityMapV3Outcome::Unmapped(UnmappedReason::Unknown("SOME_NEW_REASON".into()))
        );

        // Too few answers, or an element that is neither, is an error, not a wrong pairing.
        let short =
            serde_json::json!({"email_hash": [{"e": "optout"}], "phone_hash": [{"e": "optout"}]});
        assert!(input().parse_response(&short).is_err());
        let bad = serde_json::json!({
            "email_hash": [{"u": "x"}, {"e": "optout"}, {"e": "optout"}],
            "phone_hash": [{"e": "optout"}],
        });
        assert!(input().parse_response(&bad).is_err());
    }

    #[test]
    fn batches_respect_the_limit_and_order() {
        let mut big = IdentityMapV3Input::new();
        for i in 0..7 {
            big = big.with_email(&format!("u{i}@example.com")).unwrap();
        }
        big = big.with_phone("+12345678901").unwrap();
        let batches = big.into_batches(3);
        let sizes: Vec<usize> = batches.iter().map(IdentityMapV3Input::len).collect();
        assert_eq!(sizes, [3, 3, 2]);
        assert_eq!(batches[2].items[0][0].0, "u6@example.com");
        assert_eq!(batches[2].items[1][0].0, "+12345678901");
        assert!(IdentityMapV3Input::new().into_batches(0).is_empty());
    }
}
