//! `docs/CONFIG.md` against the code: the config keys and defaults against
//! `OperatorConfig::default()`, the operator's flags and environment variables against its
//! `--help`, the CLI's environment variables against its clap definitions, and the metrics
//! against a running server's `/metrics`. Nothing here lists a key, flag or metric itself: each
//! side is read from the document and from the code, and the two must agree.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use euid_operator::{Endpoint, OperatorConfig, DEFAULT_DATA_DIR, DEFAULT_LISTEN};
use euid_test_support::{repo_root, ApiClient, TestServer};

fn read_repo_file(path: &str) -> String {
    let full = repo_root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn config_doc() -> String {
    read_repo_file("docs/CONFIG.md")
}

/// The text under `## heading`, up to the next `## ` heading.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("docs/CONFIG.md has no \"## {heading}\" section"));
    let body = &doc[start + heading.len() + 5..];
    body.find("\n## ").map_or(body, |end| &body[..end])
}

/// The Markdown tables of `text`: each a list of rows (header and separator left out), each
/// row a list of cells.
fn tables(text: &str) -> Vec<Vec<Vec<String>>> {
    let mut tables = Vec::new();
    let mut current: Vec<Vec<String>> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.trim();
        if let Some(inner) = line.strip_prefix('|') {
            let inner = inner.strip_suffix('|').unwrap_or(inner);
            current.push(inner.split('|').map(|c| c.trim().to_owned()).collect());
        } else if !current.is_empty() {
            assert!(current.len() >= 2, "a table without header: {current:?}");
            tables.push(current.split_off(2));
            current.clear();
        }
    }
    tables
}

/// The `code spans` of a cell, in order.
fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn first_code_span(cell: &str) -> Option<String> {
    code_spans(cell).into_iter().next()
}

/// Each side's names that the other lacks, for an assertion message.
fn difference<T: Ord + std::fmt::Debug>(code: &BTreeSet<T>, doc: &BTreeSet<T>) -> String {
    format!(
        "missing from docs/CONFIG.md: {:?}; documented but not in the code: {:?}",
        code.difference(doc).collect::<Vec<_>>(),
        doc.difference(code).collect::<Vec<_>>()
    )
}

#[test]
fn every_config_key_and_default_is_documented() {
    let doc = config_doc();
    let rows = tables(section(&doc, "Config file keys")).concat();
    let documented: BTreeMap<String, serde_json::Value> = rows
        .iter()
        .map(|row| {
            let key = first_code_span(&row[0]).unwrap_or_else(|| panic!("no key in {row:?}"));
            let default = row
                .get(2)
                .and_then(|cell| first_code_span(cell))
                .unwrap_or_else(|| panic!("no `default` for {key}"));
            let value = serde_json::from_str(&default)
                .unwrap_or_else(|e| panic!("{key}'s default `{default}` is not JSON: {e}"));
            (key, value)
        })
        .collect();
    assert_eq!(documented.len(), rows.len(), "a key is listed twice");

    let serialized = serde_json::to_value(OperatorConfig::default()).expect("serializes");
    let defaults = serialized.as_object().expect("a JSON object");
    let code_keys: BTreeSet<&String> = defaults.keys().collect();
    let doc_keys: BTreeSet<&String> = documented.keys().collect();
    assert_eq!(code_keys, doc_keys, "{}", difference(&code_keys, &doc_keys));
    for (key, value) in defaults {
        assert_eq!(
            &documented[key], value,
            "docs/CONFIG.md gives {key} a default other than OperatorConfig::default()'s"
        );
    }

    // The documented defaults, as a config file, are accepted, all known, and the defaults.
    let file = serde_json::to_vec(&documented).unwrap();
    let parsed = OperatorConfig::from_json(&file).expect("the documented defaults are valid");
    assert_eq!(
        parsed.unknown_keys().collect::<Vec<_>>(),
        Vec::<&str>::new()
    );
    assert_eq!(parsed, OperatorConfig::default());
}

/// One option of the operator's `--help`: its flags, the environment variable it names and
/// the `default X` it states.
#[derive(Debug, Default)]
struct HelpOption {
    flags: BTreeSet<String>,
    env: BTreeSet<String>,
    default: Option<String>,
}

/// `word` without the brackets and punctuation around it (`./dir` keeps its dot).
fn trim_punctuation(word: &str) -> &str {
    word.trim_start_matches(['(', '['])
        .trim_end_matches([')', ']', ',', ';', '.', ':'])
}

fn env_names(text: &str) -> BTreeSet<String> {
    text.split_whitespace()
        .map(|w| trim_punctuation(w.split('=').next().unwrap_or(w)))
        .filter(|w| {
            (w.starts_with("EUID_") || w.starts_with("RUST_"))
                && w.len() > 5
                && w.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// The options block of `--help` (lines that start with a flag, each with its continuation
/// lines), and the environment variables named outside it.
fn parse_help(help: &str) -> (Vec<HelpOption>, BTreeSet<String>) {
    let options_start = help
        .find("OPTIONS:")
        .expect("an OPTIONS: section in --help");
    let rest = &help[options_start + "OPTIONS:".len()..];
    let (block, after) = rest.split_once("\n\n").unwrap_or((rest, ""));
    let mut texts: Vec<String> = Vec::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        if line.trim_start().starts_with('-') {
            texts.push(line.to_owned());
        } else if let Some(last) = texts.last_mut() {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    let options = texts
        .iter()
        .map(|text| {
            let first_words = text.trim_start().split("  ").next().unwrap_or("");
            let flags = first_words
                .split_whitespace()
                .map(trim_punctuation)
                .filter(|w| w.starts_with('-'))
                .map(str::to_owned)
                .collect();
            let default = text
                .split_once("default ")
                .and_then(|(_, v)| v.split_whitespace().next())
                .map(|v| trim_punctuation(v).to_owned());
            HelpOption {
                flags,
                env: env_names(text),
                default,
            }
        })
        .collect();
    let mut outside = env_names(&help[..options_start]);
    outside.extend(env_names(after));
    (options, outside)
}

#[test]
fn every_operator_flag_and_environment_variable_is_documented() {
    let out = Command::new(env!("CARGO_BIN_EXE_euid-operator"))
        .arg("--help")
        .output()
        .expect("euid-operator --help runs");
    assert!(out.status.success(), "--help fails: {out:?}");
    let help = String::from_utf8(out.stdout).expect("UTF-8 help");
    let (options, outside_env) = parse_help(&help);
    assert!(options.len() >= 2, "no options parsed from --help:\n{help}");

    let doc = config_doc();
    let flags_section = section(&doc, "Operator flags and environment variables");
    let rows = tables(flags_section).concat();
    // Documented rows by flag (the first word of each code span), and the rows without one.
    let mut by_flag: BTreeMap<String, &Vec<String>> = BTreeMap::new();
    let mut doc_env_without_flag = BTreeSet::new();
    for row in &rows {
        let flags: Vec<String> = code_spans(&row[0])
            .iter()
            .filter_map(|s| s.split_whitespace().next().map(str::to_owned))
            .collect();
        if flags.is_empty() {
            doc_env_without_flag.extend(code_spans(&row[1]));
        }
        for flag in flags {
            assert!(by_flag.insert(flag, row).is_none(), "a flag listed twice");
        }
    }

    let help_flags: BTreeSet<String> = options.iter().flat_map(|o| o.flags.clone()).collect();
    let doc_flags: BTreeSet<String> = by_flag.keys().cloned().collect();
    assert_eq!(
        help_flags,
        doc_flags,
        "{}",
        difference(&help_flags, &doc_flags)
    );
    assert_eq!(
        outside_env,
        doc_env_without_flag,
        "environment variables without a flag: {}",
        difference(&outside_env, &doc_env_without_flag)
    );
    for option in &options {
        let row = by_flag[option.flags.first().expect("a flag")];
        let doc_env: BTreeSet<String> = code_spans(&row[1]).into_iter().collect();
        assert_eq!(
            option.env, doc_env,
            "environment variable of {:?}",
            option.flags
        );
        if let Some(default) = &option.default {
            assert!(
                row[3].contains(default.as_str()),
                "--help gives {:?} the default {default}, docs/CONFIG.md says {}",
                option.flags,
                row[3]
            );
        }
    }
    // The help's defaults are the code's.
    assert!(help.contains(DEFAULT_DATA_DIR) && help.contains(DEFAULT_LISTEN));
}

/// The CLI's environment variables and the flag each stands in for (`--name` for a long
/// option, the `NAME` argument for a positional one), from its clap attributes.
fn cli_env_vars() -> BTreeMap<String, BTreeSet<String>> {
    let source = read_repo_file("crates/euid-cli/src/cli.rs");
    let lines: Vec<&str> = source.lines().collect();
    let mut vars: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((_, rest)) = line.split_once("env = \"") else {
            continue;
        };
        let name = rest.split('"').next().expect("a quoted name").to_owned();
        let field = lines[i + 1..]
            .iter()
            .find_map(|l| l.trim().strip_prefix("pub(crate) "))
            .and_then(|l| l.split(':').next())
            .expect("the field under the attribute");
        let flag = if line.contains("long") {
            format!("--{}", field.replace('_', "-"))
        } else {
            field.to_ascii_uppercase()
        };
        vars.entry(name).or_default().insert(flag);
    }
    assert!(
        !vars.is_empty(),
        "no env = \"...\" in crates/euid-cli/src/cli.rs"
    );
    vars
}

#[test]
fn every_cli_environment_variable_is_documented() {
    let code = cli_env_vars();
    let doc = config_doc();
    let rows = tables(section(&doc, "`euid` CLI environment variables")).concat();
    let documented: BTreeMap<String, &Vec<String>> = rows
        .iter()
        .map(|row| (first_code_span(&row[0]).expect("a name"), row))
        .collect();
    let code_names: BTreeSet<&String> = code.keys().collect();
    let doc_names: BTreeSet<&String> = documented.keys().collect();
    assert_eq!(
        code_names,
        doc_names,
        "{}",
        difference(&code_names, &doc_names)
    );
    for (name, flags) in &code {
        let cell = &documented[name][1];
        for flag in flags {
            assert!(
                cell.contains(flag.as_str()),
                "{name} stands in for {flag}, which docs/CONFIG.md does not say: {cell}"
            );
        }
    }
}

/// One metric family as documented or exposed: its type and label names.
#[derive(Debug, PartialEq)]
struct Family {
    kind: String,
    labels: BTreeSet<String>,
}

/// The label names and values of a sample line's `{...}` part.
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let end = after.find('"').expect("a closing quote");
        labels.push((
            name.trim_start_matches(',').trim().to_owned(),
            after[..end].to_owned(),
        ));
        rest = &after[end + 1..];
    }
    labels
}

#[test]
fn every_exposed_metric_is_documented() {
    let server = TestServer::start(OperatorConfig::default());
    let client = ApiClient::demo(&server);
    // A few requests, so that series exist: a success, an unknown key, a bad body, a bad
    // refresh token, and the operations endpoints (which are not counted).
    client.generate(r#""email":"metrics@example.org""#);
    let unauthorized = server.request(
        "POST",
        "/v2/token/generate",
        &[("Authorization", "Bearer nope")],
        b"x",
    );
    assert_eq!(unauthorized.status, 401);
    assert_eq!(
        server
            .post_auth("/v2/token/generate", b"not base64!")
            .status,
        400
    );
    server.request("POST", "/v2/token/refresh", &[], b"AAAA");
    server.request("GET", "/ops/healthcheck", &[], b"");
    server.request("GET", "/nowhere", &[], b"");
    let response = server.request("GET", "/metrics", &[], b"");
    assert_eq!(response.status, 200);
    let text = response.text();

    let mut exposed: BTreeMap<String, Family> = BTreeMap::new();
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut samples = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
            exposed.insert(
                name.to_owned(),
                Family {
                    kind: kind.to_owned(),
                    labels: BTreeSet::new(),
                },
            );
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        samples += 1;
        let (name, labels) = match line.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.split('}').next().unwrap_or(""))),
            None => (line.split(' ').next().unwrap_or(line), Vec::new()),
        };
        // A histogram's samples are its name plus _bucket, _sum or _count.
        let (family, suffix) = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                let base = name.strip_suffix(s)?;
                (exposed.get(base)?.kind == "histogram").then_some((base, *s))
            })
            .unwrap_or((name, ""));
        let entry = exposed
            .get_mut(family)
            .unwrap_or_else(|| panic!("sample {name} has no # TYPE line"));
        let mut names = BTreeSet::new();
        for (label, value) in labels {
            values.entry(label.clone()).or_default().insert(value);
            if !(suffix == "_bucket" && label == "le") {
                names.insert(label);
            }
        }
        entry.labels.extend(names);
    }
    assert!(samples > 0, "no samples after requests:\n{text}");

    let doc = config_doc();
    let metrics = tables(section(&doc, "Metrics"));
    assert_eq!(
        metrics.len(),
        2,
        "the Metrics section has a metric and a label table"
    );
    let documented: BTreeMap<String, Family> = metrics[0]
        .iter()
        .map(|row| {
            let name = first_code_span(&row[0]).expect("a metric name");
            let family = Family {
                kind: row[1].clone(),
                labels: code_spans(&row[2]).into_iter().collect(),
            };
            (name, family)
        })
        .collect();
    assert_eq!(
        exposed.keys().collect::<BTreeSet<_>>(),
        documented.keys().collect::<BTreeSet<_>>(),
        "{}",
        difference(
            &exposed.keys().collect::<BTreeSet<_>>(),
            &documented.keys().collect::<BTreeSet<_>>()
        )
    );
    assert_eq!(exposed, documented, "types or label names differ");

    let label_values: BTreeMap<String, BTreeSet<String>> = metrics[1]
        .iter()
        .map(|row| {
            let label = first_code_span(&row[0]).expect("a label name");
            (label, code_spans(&row[1]).into_iter().collect())
        })
        .collect();
    for (label, seen) in &values {
        let allowed = label_values
            .get(label)
            .unwrap_or_else(|| panic!("label {label} has no documented values"));
        assert!(
            seen.is_subset(allowed),
            "{label} values not documented: {:?}",
            seen.difference(allowed).collect::<Vec<_>>()
        );
    }
    // Every histogram series has every bucket: the documented bounds are the exposed ones.
    assert_eq!(values.get("le"), label_values.get("le"), "bucket bounds");
    // The endpoint label is the path of an API endpoint, or `other`.
    let paths: BTreeSet<String> = Endpoint::ALL
        .iter()
        .map(|e| e.path().to_owned())
        .chain(std::iter::once("other".to_owned()))
        .collect();
    assert_eq!(
        label_values.get("endpoint"),
        Some(&paths),
        "{}",
        difference(
            &paths,
            label_values.get("endpoint").unwrap_or(&BTreeSet::new())
        )
    );
    // The operations endpoints and unknown paths are not counted.
    assert!(!values["endpoint"].contains("other"), "{text}");
}
