//! TC strings for requests that must pass, or fail, the EUID consent check.

/// The EUID documentation's example TC string (`testdata/tcf.json`'s first case): consent to
/// purposes 1, 3 and 4, legitimate interest in 2, 7 and 10, and vendor 21, which is what
/// `ConsentPolicy::default()` needs, so a generate with it is issued tokens.
pub const SUFFICIENT_TCF: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";

/// The same kind of string without consent to purpose 1 (from IABTechLab/uid2-operator's
/// tests): a generate with it is answered `insufficient_user_consent`.
pub const INSUFFICIENT_TCF: &str = "CPehXK9PehXK9ABAMBFRACBoADAAAEJAAIYgAKwAQAKgArABAAqAAA";

#[cfg(test)]
mod tests {
    use super::*;
    use euid_tcf::{ConsentPolicy, ConsentVerdict};

    #[test]
    fn the_strings_get_the_verdicts_their_names_promise() {
        let policy = ConsentPolicy::default();
        assert_eq!(
            policy.evaluate(SUFFICIENT_TCF),
            Ok(ConsentVerdict::Sufficient)
        );
        match policy.evaluate(INSUFFICIENT_TCF) {
            Ok(ConsentVerdict::Insufficient { missing_purposes }) => {
                assert_eq!(missing_purposes, vec![1]);
            }
            other => panic!("{other:?}"),
        }
    }
}
