//! Where the examples get their operator URL and credentials.

/// `(url, api_key, secret)` from `EUID_URL`, `EUID_API_KEY` and `EUID_SECRET` (the names the
/// `euid` CLI uses), falling back to `./euid-data/demo-client.json`, which
/// `cargo run --release -p euid-operator` writes.
pub(crate) fn credentials() -> (String, String, String) {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let demo: Option<serde_json::Value> = std::fs::read("euid-data/demo-client.json")
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let from_demo = |field: &str| {
        demo.as_ref()
            .and_then(|d| d.get(field))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let url = env("EUID_URL")
        .or_else(|| from_demo("base_url"))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let (Some(api_key), Some(secret)) = (
        env("EUID_API_KEY").or_else(|| from_demo("api_key")),
        env("EUID_SECRET").or_else(|| from_demo("client_secret")),
    ) else {
        eprintln!(
            "set EUID_API_KEY and EUID_SECRET, or run `cargo run --release -p euid-operator` \
             first so that ./euid-data/demo-client.json exists"
        );
        std::process::exit(2);
    };
    (url, api_key, secret)
}
