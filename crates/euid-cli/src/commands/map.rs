//! `euid map`: a CRM list to raw EUIDs through `/v3/identity/map`, streamed in chunks so a
//! file of any length maps in bounded memory.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, IsTerminal as _, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use euid_client::{
    ClientError, IdentityMapClient, IdentityMapV3Input, IdentityMapV3Outcome, UnmappedReason,
    MAX_IDENTITY_MAP_V3_BATCH,
};

use crate::cli::{MapArgs, MapType};
use crate::commands::envelope::parse_client_secret;
use crate::credentials;
use crate::error::{CliError, CliResult};
use crate::http::{self, answer_error};

/// Identities read, mapped and written per round: two requests' worth, so memory stays
/// bounded whatever the file's length while euid-client still batches within a round.
const CHUNK: usize = 2 * MAX_IDENTITY_MAP_V3_BATCH;

/// The output's first line.
pub(crate) const HEADER: &str = "input,raw_uid,previous_raw_uid,refresh_from,unmapped_reason";

/// The reason written for a line that is not a valid identity of `--type` (the operator's
/// own word for it).
const INVALID: &str = "invalid identifier";
/// The longest line, and the longest CSV record, `euid map` reads: far beyond any identity or
/// CRM row, and it keeps a file without line breaks (or with CR-only ones) from being read
/// into memory whole.
const MAX_RECORD_BYTES: usize = 64 * 1024;

/// `euid map`: read identities, map them, write one CSV row per identity in input order.
pub(crate) fn map(
    args: &MapArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> CliResult<u8> {
    let (url, api_key, secret) = credentials::resolve(&args.connection)?.require_both()?;
    parse_client_secret(&secret)?;
    http::check_url(&url)?;
    // ClientError's texts for a bad API key or secret never hold them.
    let client = IdentityMapClient::with_config(
        &url,
        &api_key,
        secret.trim(),
        http::transport_config(&args.connection),
    )
    .map_err(|e| CliError::invalid(e.to_string()))?;

    let shown = args.input.display().to_string();
    let (reader, total_bytes): (Box<dyn BufRead + '_>, Option<u64>) =
        if args.input == Path::new("-") {
            (Box::new(BufReader::new(stdin)), None)
        } else {
            let file = File::open(&args.input)
                .map_err(|e| CliError::invalid(format!("cannot open {shown}: {e}")))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(BufReader::new(file)), size)
        };
    let mut lines = Lines::new(reader, &shown);
    let column = match &args.column {
        Some(name) => Some(lines.column_index(name)?),
        None => None,
    };

    let mut out: Box<dyn Write + '_> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(File::create(path).map_err(
            |e| CliError::invalid(format!("cannot create {}: {e}", path.display())),
        )?)),
        None => Box::new(std::io::BufWriter::new(stdout)),
    };
    let mut progress = Progress::new(total_bytes, std::io::stderr().is_terminal());

    let mut written: u64 = 0;
    let result = (|| -> CliResult<()> {
        // The header goes out with the first chunk's rows, so a run that fails in its first
        // chunk leaves stdout empty.
        let mut header = true;
        loop {
            let chunk = lines.next_chunk(column, CHUNK)?;
            if chunk.is_empty() && !header {
                return Ok(());
            }
            let rows = map_chunk(&client, args.kind, &chunk)?;
            if std::mem::take(&mut header) {
                write_out(&mut out, HEADER)?;
            }
            for row in rows {
                write_out(&mut out, &row)?;
                written += 1;
            }
            progress.update(written, lines.bytes_read, stderr);
        }
    })();
    progress.finish(stderr);
    let flushed = out.flush().map_err(write_error);
    match (result, flushed) {
        (Err(e), _) if e.is_broken_pipe() => Ok(0),
        (Ok(()), Ok(())) => Ok(0),
        (Ok(()), Err(e)) if e.is_broken_pipe() => Ok(0),
        (Ok(()), Err(e)) => Err(e),
        (Err(e), _) => Err(e.after_rows(written)),
    }
}

/// Maps one chunk: lines that are not valid identities of `kind` are answered locally, the
/// rest go to the operator in batches; the rows come back in the chunk's order.
fn map_chunk(
    client: &IdentityMapClient,
    kind: MapType,
    chunk: &[String],
) -> CliResult<Vec<String>> {
    let mut input = IdentityMapV3Input::new();
    let mut valid = Vec::with_capacity(chunk.len());
    for line in chunk {
        let added = match kind {
            MapType::Email => input.push_email(line),
            MapType::Phone => input.push_phone(line),
            MapType::EmailHash => input.push_hashed_email(line),
            MapType::PhoneHash => input.push_hashed_phone(line),
        };
        valid.push(added.is_ok());
    }
    let mut results = if input.is_empty() {
        Vec::new()
    } else {
        client.generate_identity_map_v3(input).map_err(map_error)?
    }
    .into_iter();
    let mut rows = Vec::with_capacity(chunk.len());
    for (line, valid) in chunk.iter().zip(valid) {
        if !valid {
            rows.push(row(line, "", "", "", INVALID));
            continue;
        }
        // One kind per run, so euid-client answers in input order.
        let result = results
            .next()
            .filter(|r| &r.input == line)
            .ok_or_else(|| CliError::failed("the operator's answer does not match the request"))?;
        rows.push(match result.outcome {
            IdentityMapV3Outcome::Mapped {
                current_raw_uid,
                previous_raw_uid,
                refresh_from_s,
            } => row(
                line,
                &current_raw_uid,
                previous_raw_uid.as_deref().unwrap_or(""),
                &refresh_from_s.to_string(),
                "",
            ),
            IdentityMapV3Outcome::Unmapped(reason) => row(line, "", "", "", &reason_text(&reason)),
        });
    }
    Ok(rows)
}

fn reason_text(reason: &UnmappedReason) -> String {
    match reason {
        UnmappedReason::OptOut => "optout".to_owned(),
        UnmappedReason::InvalidIdentifier => INVALID.to_owned(),
        UnmappedReason::Unknown(other) => other.clone(),
        // A reason added to euid-client later: its Debug name beats dropping it.
        other => format!("{other:?}"),
    }
}

fn map_error(err: ClientError) -> CliError {
    match err {
        ClientError::Transport(e) => http::transport_error(&e),
        other => answer_error(other, "cannot decrypt the response"),
    }
}

/// One CSV row.
fn row(input: &str, raw_uid: &str, previous: &str, refresh_from: &str, reason: &str) -> String {
    [input, raw_uid, previous, refresh_from, reason]
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

/// A field quoted when it holds a comma, a quote or a line break (RFC 4180).
pub(crate) fn csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\"")).into()
    } else {
        field.into()
    }
}

fn write_out(out: &mut dyn Write, line: &str) -> CliResult {
    out.write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .map_err(write_error)
}

fn write_error(e: std::io::Error) -> CliError {
    if e.kind() == ErrorKind::BrokenPipe {
        CliError::broken_pipe()
    } else {
        CliError::failed(format!("cannot write the output: {e}"))
    }
}

/// Input lines, one identity each or a CSV column, read on demand.
struct Lines<'a> {
    reader: Box<dyn BufRead + 'a>,
    shown: &'a str,
    bytes_read: u64,
    line_number: u64,
}

impl<'a> Lines<'a> {
    fn new(reader: Box<dyn BufRead + 'a>, shown: &'a str) -> Self {
        Lines {
            reader,
            shown,
            bytes_read: 0,
            line_number: 0,
        }
    }

    /// The next physical line without its line break (and, on the first line, without a
    /// UTF-8 byte order mark), or `None` at the end. A line longer than `MAX_RECORD_BYTES`
    /// is an error naming it.
    fn next_line(&mut self) -> CliResult<Option<String>> {
        let mut buf = Vec::new();
        let limit = MAX_RECORD_BYTES as u64 + 1;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|e| CliError::failed(format!("cannot read {}: {e}", self.shown)))?;
        if n == 0 {
            return Ok(None);
        }
        self.bytes_read += n as u64;
        self.line_number += 1;
        if buf.last() != Some(&b'\n') && buf.len() > MAX_RECORD_BYTES {
            return Err(CliError::invalid(format!(
                "{} line {} is longer than {MAX_RECORD_BYTES} bytes",
                self.shown, self.line_number
            )));
        }
        while buf.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
            buf.pop();
        }
        let mut line = String::from_utf8(buf).map_err(|_| {
            CliError::invalid(format!(
                "{} line {} is not UTF-8 text",
                self.shown, self.line_number
            ))
        })?;
        // Spreadsheets write a byte order mark before the first line of a UTF-8 CSV.
        if self.line_number == 1 && line.starts_with('\u{feff}') {
            line.drain(..'\u{feff}'.len_utf8());
        }
        Ok(Some(line))
    }

    /// The next CSV record: a line, joined with the following ones while a quoted field is
    /// open (at most `MAX_RECORD_BYTES` in all).
    fn next_record(&mut self) -> CliResult<Option<Vec<String>>> {
        let Some(first) = self.next_line()? else {
            return Ok(None);
        };
        let start = self.line_number;
        let mut record = CsvRecord::default();
        let mut size = first.len();
        record.feed(&first);
        loop {
            if let Some(fields) = record.end_of_line() {
                return Ok(Some(fields));
            }
            let Some(more) = self.next_line()? else {
                return Err(CliError::invalid(format!(
                    "{} line {start}: a quoted field is never closed",
                    self.shown
                )));
            };
            size += more.len() + 1;
            if size > MAX_RECORD_BYTES {
                return Err(CliError::invalid(format!(
                    "{} line {start}: a record longer than {MAX_RECORD_BYTES} bytes (a quoted field that is never closed?)",
                    self.shown
                )));
            }
            record.feed("\n");
            record.feed(&more);
        }
    }

    /// Reads the header and finds `name` in it.
    fn column_index(&mut self, name: &str) -> CliResult<usize> {
        let header = self.next_record()?.unwrap_or_default();
        header
            .iter()
            .position(|h| h.trim() == name.trim())
            .ok_or_else(|| {
                CliError::invalid(format!(
                    "{} has no column {name:?} in its header line",
                    self.shown
                ))
            })
    }

    /// Up to `max` identities, trimmed; blank ones are skipped.
    fn next_chunk(&mut self, column: Option<usize>, max: usize) -> CliResult<Vec<String>> {
        let mut chunk = Vec::with_capacity(max.min(1024));
        while chunk.len() < max {
            let value = match column {
                None => self.next_line()?,
                Some(i) => self
                    .next_record()?
                    .map(|mut fields| fields.get_mut(i).map(std::mem::take).unwrap_or_default()),
            };
            let Some(value) = value else { break };
            let value = value.trim();
            if !value.is_empty() {
                chunk.push(value.to_owned());
            }
        }
        Ok(chunk)
    }
}

/// A CSV record read line by line (RFC 4180: quoted fields may hold commas, doubled quotes
/// and line breaks). A quote opens a quoted field only at the start of a field; elsewhere it
/// is a literal character (`5" tall`, `O"Brien`), as in Python's `csv` and spreadsheets.
#[derive(Default)]
struct CsvRecord {
    fields: Vec<String>,
    field: String,
    /// Inside a quoted field.
    quoted: bool,
    /// Inside a quoted field, a quote was just read: the next character says whether it was
    /// a doubled quote or the closing one.
    quote_pending: bool,
    /// Something of the current field has been read (so a quote is literal).
    started: bool,
}

impl CsvRecord {
    fn feed(&mut self, text: &str) {
        for c in text.chars() {
            if self.quote_pending {
                self.quote_pending = false;
                if c == '"' {
                    self.field.push('"');
                    continue;
                }
                self.quoted = false;
            }
            if self.quoted {
                if c == '"' {
                    self.quote_pending = true;
                } else {
                    self.field.push(c);
                }
                continue;
            }
            match c {
                '"' if !self.started => {
                    self.quoted = true;
                    self.started = true;
                }
                ',' => {
                    self.fields.push(std::mem::take(&mut self.field));
                    self.started = false;
                }
                _ => {
                    self.field.push(c);
                    self.started = true;
                }
            }
        }
    }

    /// The fields, when the text fed so far ends a record; `None` while a quoted field is
    /// open (the caller feeds the line break and the next line).
    fn end_of_line(&mut self) -> Option<Vec<String>> {
        if self.quote_pending {
            self.quote_pending = false;
            self.quoted = false;
        }
        if self.quoted {
            return None;
        }
        let mut fields = std::mem::take(&mut self.fields);
        fields.push(std::mem::take(&mut self.field));
        self.started = false;
        Some(fields)
    }
}

/// The fields of one CSV record held whole in `text`, or `None` when a quoted field is still
/// open at its end.
#[cfg(test)]
fn parse_csv_record(text: &str) -> Option<Vec<String>> {
    let mut record = CsvRecord::default();
    record.feed(text);
    record.end_of_line()
}

/// The progress line on stderr, shown only when stderr is a terminal.
struct Progress {
    enabled: bool,
    total_bytes: Option<u64>,
    start: Instant,
    shown: bool,
}

impl Progress {
    fn new(total_bytes: Option<u64>, enabled: bool) -> Self {
        Self {
            enabled,
            total_bytes,
            start: Instant::now(),
            shown: false,
        }
    }

    fn update(&mut self, rows: u64, bytes_read: u64, stderr: &mut dyn Write) {
        if !self.enabled {
            return;
        }
        let fraction = self
            .total_bytes
            .filter(|t| *t > 0)
            .map(|t| (bytes_read as f64 / t as f64).min(1.0));
        let line = progress_line(rows, self.start.elapsed(), fraction);
        // A failing terminal is no reason to stop mapping.
        let _ = write!(stderr, "\r{line}\x1b[K");
        let _ = stderr.flush();
        self.shown = true;
    }

    fn finish(&mut self, stderr: &mut dyn Write) {
        if self.shown {
            let _ = writeln!(stderr);
        }
    }
}

/// `[#####.....]  50%  10000 mapped  2500/s  ETA 4s`, or without bar and ETA when the size
/// is unknown (stdin).
pub(crate) fn progress_line(rows: u64, elapsed: Duration, fraction: Option<f64>) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
    match fraction {
        Some(f) => {
            const WIDTH: usize = 30;
            let filled = ((f * WIDTH as f64) as usize).min(WIDTH);
            let eta = if f > 0.0 {
                format_duration(secs * (1.0 - f) / f)
            } else {
                "?".to_owned()
            };
            format!(
                "[{}{}] {:3.0}%  {rows} mapped  {rate:.0}/s  ETA {eta}",
                "#".repeat(filled),
                ".".repeat(WIDTH - filled),
                f * 100.0
            )
        }
        None => format!("{rows} mapped  {rate:.0}/s"),
    }
}

fn format_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_and_fields_round_trip() {
        assert_eq!(
            parse_csv_record(r#"a,"b,c","say ""hi""",,"#).unwrap(),
            ["a", "b,c", "say \"hi\"", "", ""]
        );
        assert_eq!(parse_csv_record("").unwrap(), [""]);
        assert!(parse_csv_record(r#"a,"open"#).is_none());
        assert_eq!(
            parse_csv_record("\"two\nlines\",x").unwrap(),
            ["two\nlines", "x"]
        );
        for field in ["plain", "a,b", "q\"uote", "line\nbreak", ""] {
            let text = csv_field(field);
            assert_eq!(parse_csv_record(&text).unwrap(), [field]);
        }
        // A quote inside an unquoted field is a character, not the start of a quoted field,
        // so a stray one never swallows the lines after it.
        assert_eq!(
            parse_csv_record(r#"a@x.com,5" tall"#).unwrap(),
            ["a@x.com", "5\" tall"]
        );
        assert_eq!(
            parse_csv_record(r#"O"Brien,"x""#).unwrap(),
            ["O\"Brien", "x"]
        );
        // A quoted field's closing quote at the end of a line.
        assert_eq!(parse_csv_record(r#""a""#).unwrap(), ["a"]);
        assert_eq!(parse_csv_record(r#""a""""#).unwrap(), ["a\""]);
        assert_eq!(csv_field("user@example.com"), "user@example.com");
    }

    #[test]
    fn progress_shows_rate_and_eta() {
        let line = progress_line(5000, Duration::from_secs(2), Some(0.25));
        assert!(line.starts_with("[#######......."), "{line}");
        assert!(line.contains(" 25%"), "{line}");
        assert!(line.contains("5000 mapped"), "{line}");
        assert!(line.contains("2500/s"), "{line}");
        assert!(line.contains("ETA 6s"), "{line}");
        let line = progress_line(100, Duration::from_secs(1), None);
        assert_eq!(line, "100 mapped  100/s");
        assert_eq!(format_duration(3725.0), "1h02m05s");
        assert_eq!(format_duration(65.0), "1m05s");
        let start = progress_line(0, Duration::ZERO, Some(0.0));
        assert!(start.contains("ETA ?"), "{start}");
    }
}
