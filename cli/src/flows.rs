//! `connector flows ...`: a clinic's channels and flows as files kept in git, checked offline,
//! tested without a CRM, applied to the embedded store and exported back.
//!
//! **File format** (YAML, or JSON when the name ends in `.json`): one document with two
//! optional maps from id to the same inputs the API takes (`POST /channels`, `POST /flows`):
//!
//! ```yaml
//! channels:
//!   north-ehr:            # the channel id
//!     name: North clinic EHR
//!     inbound: { secret: "env:CONNECTOR_SECRET_NORTH_HMAC" }
//! flows:
//!   register-patients:    # the flow id
//!     name: Register patients
//!     channel_id: north-ehr
//!     direction: ehr_to_crm
//!     ...
//! ```
//!
//! Several files may be given; ids are unique across them and a flow may name a channel of any
//! of them (for `apply`, also one already stored). Problems are printed as
//! `FILE: flows.<id>.<field>: <rule>`, never quoting a value; a file that cannot be read as
//! YAML gets its line and column.
//!
//! - `validate FILE...`: every problem of every file; exit 1 when there is one.
//! - `test FILE --flow ID --message MSG | --payload JSON`: the preview the API's flow test
//!   answers, as JSON (an EHR -> CRM flow's CRM operations, a CRM -> EHR flow's HL7 message); no
//!   CRM is called.
//! - `apply FILE... --db PATH`: validates everything first, then creates or updates the channels
//!   and then the flows through the same functions as the API, audited as the `cli` user;
//!   applying the same files again changes nothing and says so.
//! - `export --db PATH`: the stored channels and flows in this format (applying it changes
//!   nothing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use connector_app::flows::admin::{self, AdminError, AdminPorts, Change};
use connector_app::flows::preview::{self, PreviewError, TestInput};
use connector_app::http::JsonFault;
use connector_domain::flow::{Channel, ChannelId, ChannelInput, Flow, FlowId, FlowInput};
use connector_domain::{Actor, Clock, Role, SystemClock, ValidationErrors};
use serde::{Deserialize, Serialize};

/// `connector flows` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum FlowsCommand {
    /// Check flows configuration files offline; print every problem with its file and field.
    Validate {
        /// YAML (or .json) files of `channels` and `flows`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print, as JSON, what a flow of FILE would do with a message or webhook payload (no CRM
    /// call, nothing written).
    Test {
        /// The configuration file holding the flow.
        file: PathBuf,
        /// The flow's id.
        #[arg(long)]
        flow: String,
        /// An HL7 message (ER7) for an ehr_to_crm flow.
        #[arg(long, conflicts_with = "payload", required_unless_present = "payload")]
        message: Option<PathBuf>,
        /// A CRM webhook payload (JSON) for a crm_to_ehr flow.
        #[arg(long)]
        payload: Option<PathBuf>,
    },
    /// Create or update the files' channels, then their flows, in the embedded store.
    Apply {
        /// YAML (or .json) files of `channels` and `flows`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The SQLite database file (created if missing).
        #[arg(long, default_value = "connector.db", env = "CONNECTOR_DB")]
        db: PathBuf,
    },
    /// Print the embedded store's channels and flows in the configuration file format.
    Export {
        /// The SQLite database file.
        #[arg(long, default_value = "connector.db", env = "CONNECTOR_DB")]
        db: PathBuf,
        /// Print JSON instead of YAML.
        #[arg(long)]
        json: bool,
    },
}

/// One configuration file: channel and flow inputs by id.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Channels by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channels: BTreeMap<String, ChannelInput>,
    /// Flows by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flows: BTreeMap<String, FlowInput>,
}

/// A problem found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileProblem {
    file: String,
    field: String,
    message: String,
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.message)
        }
    }
}

/// Runs a flows command.
pub fn run(cmd: FlowsCommand) -> anyhow::Result<()> {
    match cmd {
        FlowsCommand::Validate { files } => validate(&files),
        FlowsCommand::Test {
            file,
            flow,
            message,
            payload,
        } => test(&file, &flow, message.as_deref(), payload.as_deref()),
        FlowsCommand::Apply { files, db } => runtime()?.block_on(apply(&files, &db)),
        FlowsCommand::Export { db, json } => runtime()?.block_on(export(&db, json)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Reads a serde_saphyr error as a location and a kind, quoting no value.
fn describe_yaml_error(err: &serde_saphyr::Error) -> String {
    let place = err
        .location()
        .map(|l| format!("line {} column {}: ", l.line(), l.column()))
        .unwrap_or_default();
    // The outer error may render a snippet of the file (values included): read the inner one.
    let mut inner = err.without_snippet();
    if let serde_saphyr::Error::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let what = match inner {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => format!(
            "unknown field `{field}`, expected one of {}",
            expected.join(", ")
        ),
        serde_saphyr::Error::SerdeMissingField { field, .. } => format!("missing field `{field}`"),
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => match key {
            Some(key) => format!("duplicate key `{key}`"),
            None => "duplicate key".to_owned(),
        },
        serde_saphyr::Error::SerdeInvalidType { expected, .. }
        | serde_saphyr::Error::SerdeInvalidValue { expected, .. } => {
            format!("a value has the wrong type or form: expected {expected}")
        }
        serde_saphyr::Error::ExternalMessage { .. } | serde_saphyr::Error::Eof { .. } => {
            "the file is not valid YAML".to_owned()
        }
        serde_saphyr::Error::Unexpected { expected, .. } => {
            format!("the file is not shaped as expected: expected {expected}")
        }
        _ => "a value has the wrong type or form".to_owned(),
    };
    format!("{place}{what}")
}

/// Reads a serde_json error as a location and a kind, quoting no value.
fn describe_json_error(err: &serde_json::Error) -> String {
    let (fault, place) = JsonFault::of(err);
    match fault {
        JsonFault::Field(field) => format!("{place}: {field}"),
        JsonFault::Syntax => format!("{place}: the file is not valid JSON"),
        JsonFault::Value => format!("{place}: a value has the wrong type or form"),
    }
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Reads one configuration file; the error is a printable problem.
fn load(path: &Path) -> Result<ConfigFile, FileProblem> {
    let name = path.display().to_string();
    let problem = |message: String| FileProblem {
        file: name.clone(),
        field: String::new(),
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| problem(format!("cannot read the file: {}", e.kind())))?;
    if is_json(path) {
        serde_json::from_str(&text).map_err(|e| problem(describe_json_error(&e)))
    } else if text.trim().is_empty() {
        Ok(ConfigFile::default())
    } else {
        serde_saphyr::from_str(&text).map_err(|e| problem(describe_yaml_error(&e)))
    }
}

/// Everything the files hold, validated: channels and flows by id with the file they came from.
#[derive(Default)]
struct Checked {
    channels: Vec<(String, ChannelId, ChannelInput, Channel)>,
    flows: Vec<(String, FlowId, FlowInput, Flow)>,
    problems: Vec<FileProblem>,
}

/// Records a record's validation problems (`channels.<id>.<field>: ...`), or with `id`, the
/// problems of its id (`channels.<id>: the id ...`).
fn push_errors(
    problems: &mut Vec<FileProblem>,
    (file, prefix): (&str, &str),
    errors: ValidationErrors,
    id: bool,
) {
    problems.extend(errors.0.into_iter().map(|e| FileProblem {
        file: file.to_owned(),
        field: if id {
            prefix.to_owned()
        } else {
            format!("{prefix}.{}", e.field)
        },
        message: if id {
            format!("the id {}", e.message)
        } else {
            e.message
        },
    }));
}

/// One section of the files: its name, its records in a file, and how a record's id parses.
type Section<'a, Input, Id> = (
    &'static str,
    fn(&'a ConfigFile) -> &'a BTreeMap<String, Input>,
    fn(&str) -> Result<Id, ValidationErrors>,
);

/// Hands `each` every record of one section of the `loaded` files, in order, with the file, the
/// record's `section.id` prefix and its parsed id. A record whose id another file defined
/// already (`seen` holds the file that defined each id first), or whose id does not parse, is
/// a problem instead.
fn each_record<'a, Input, Id>(
    loaded: &'a [(String, ConfigFile)],
    (section, records, parse_id): Section<'a, Input, Id>,
    seen: &mut BTreeMap<String, String>,
    problems: &mut Vec<FileProblem>,
    mut each: impl FnMut(&mut Vec<FileProblem>, &str, &str, Id, &'a Input),
) {
    for (file, config) in loaded {
        for (id, input) in records(config) {
            let prefix = format!("{section}.{id}");
            if let Some(first) = seen.insert(id.clone(), file.clone()) {
                problems.push(FileProblem {
                    file: file.clone(),
                    field: prefix,
                    message: format!("is also defined in {first}"),
                });
                continue;
            }
            match parse_id(id) {
                Ok(parsed) => each(problems, file, &prefix, parsed, input),
                Err(errors) => push_errors(problems, (file, &prefix), errors, true),
            }
        }
    }
}

/// Loads and validates `files`. Flows may name a channel of any file or of `stored` (the
/// channels already in the store, for `apply`); the files' channels take precedence.
fn check(files: &[PathBuf], stored: &[Channel]) -> Checked {
    let now = SystemClock.now();
    let mut out = Checked::default();
    let mut loaded = Vec::new();
    for path in files {
        match load(path) {
            Ok(config) => loaded.push((path.display().to_string(), config)),
            Err(problem) => out.problems.push(problem),
        }
    }
    let mut seen_channels: BTreeMap<String, String> = BTreeMap::new();
    let mut seen_flows: BTreeMap<String, String> = BTreeMap::new();
    let mut channels: BTreeMap<ChannelId, Channel> = stored
        .iter()
        .map(|c| (c.channel_id.clone(), c.clone()))
        .collect();
    each_record(
        &loaded,
        ("channels", |config| &config.channels, admin::channel_id),
        &mut seen_channels,
        &mut out.problems,
        |problems, file, prefix, channel_id, input| match input
            .clone()
            .into_channel(channel_id.clone(), now)
        {
            Ok(channel) => {
                channels.insert(channel_id.clone(), channel.clone());
                out.channels
                    .push((file.to_owned(), channel_id, input.clone(), channel));
            }
            Err(errors) => push_errors(problems, (file, prefix), errors, false),
        },
    );
    each_record(
        &loaded,
        ("flows", |config| &config.flows, admin::flow_id),
        &mut seen_flows,
        &mut out.problems,
        |problems, file, prefix, flow_id, input| {
            let channel_key = input.channel_id.as_deref().map(str::trim);
            let channel = channel_key
                .and_then(|c| ChannelId::parse(c).ok())
                .and_then(|c| channels.get(&c));
            let build = |input: FlowInput| input.into_flow(flow_id.clone(), now);
            let built = match channel_key {
                // The channel is defined but has problems of its own (reported there): check
                // the flow alone rather than report its channel as missing.
                Some(key) if channel.is_none() && seen_channels.contains_key(key) => {
                    build(input.clone())
                }
                _ => admin::validate_flow(input.clone(), channel, build),
            };
            match built {
                Ok(flow) => out
                    .flows
                    .push((file.to_owned(), flow_id, input.clone(), flow)),
                Err(errors) => push_errors(problems, (file, prefix), errors, false),
            }
        },
    );
    out
}

fn print_problems(problems: &[FileProblem]) {
    for p in problems {
        eprintln!("{p}");
    }
}

fn validate(files: &[PathBuf]) -> anyhow::Result<()> {
    let checked = check(files, &[]);
    if !checked.problems.is_empty() {
        print_problems(&checked.problems);
        bail!("{} problem(s) found", checked.problems.len());
    }
    println!(
        "valid: {} channel(s), {} flow(s) in {} file(s)",
        checked.channels.len(),
        checked.flows.len(),
        files.len()
    );
    Ok(())
}

fn test(
    file: &Path,
    flow_id: &str,
    message: Option<&Path>,
    payload: Option<&Path>,
) -> anyhow::Result<()> {
    let checked = check(&[file.to_path_buf()], &[]);
    let flow = checked
        .flows
        .iter()
        .find(|(_, id, _, _)| id.as_str() == flow_id)
        .map(|(_, _, _, flow)| flow.clone());
    let Some(flow) = flow else {
        let own: Vec<&FileProblem> = checked
            .problems
            .iter()
            .filter(|p| p.field.is_empty() || p.field.starts_with(&format!("flows.{flow_id}.")))
            .collect();
        if own.is_empty() {
            bail!("{} has no flow {flow_id}", file.display());
        }
        for p in &own {
            eprintln!("{p}");
        }
        bail!("the flow {flow_id} is not valid");
    };
    let input = TestInput {
        message: message
            .map(|m| {
                std::fs::read_to_string(m)
                    .with_context(|| format!("cannot read the message {}", m.display()))
            })
            .transpose()?,
        payload: payload
            .map(|p| -> anyhow::Result<serde_json::Value> {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read the payload {}", p.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {}", p.display(), describe_json_error(&e)))
            })
            .transpose()?,
    };
    match preview::preview(&flow, &input, SystemClock.now()) {
        Ok(plan) => {
            println!("{}", serde_json::to_string_pretty(&plan)?);
            Ok(())
        }
        Err(err) => {
            for e in &err.errors().0 {
                eprintln!("{}: {}", e.field, e.message);
            }
            match err {
                PreviewError::Input(_) => bail!("the test input is not usable"),
                PreviewError::Mapping(errors) => {
                    bail!(
                        "the flow does not map the input ({} problem(s))",
                        errors.0.len()
                    )
                }
            }
        }
    }
}

fn open_db(db: &Path) -> anyhow::Result<connector_embedded::SqliteDb> {
    connector_embedded::SqliteDb::open(db).with_context(|| format!("cannot open {}", db.display()))
}

fn describe_change(change: &Change) -> String {
    match change {
        Change::Created => "created".to_owned(),
        Change::Updated { changed } => format!("updated ({})", changed.join(", ")),
        Change::Unchanged => "unchanged".to_owned(),
    }
}

/// Prints an operation's refusal with the file and the record.
fn refusal(file: &str, prefix: &str, err: AdminError) -> anyhow::Error {
    match err {
        AdminError::Invalid(errors) => {
            let mut problems = Vec::new();
            push_errors(&mut problems, (file, prefix), errors, false);
            print_problems(&problems);
            anyhow::anyhow!("{prefix} was refused; the records before it were applied")
        }
        other => anyhow::anyhow!("{file}: {prefix}: {other}"),
    }
}

/// What a put of record `(kind, id)` from `file` changed, printed; its refusal as the error.
fn applied<T>(
    file: &str,
    (kind, id): (&str, &str),
    put: Result<(T, Change), AdminError>,
) -> anyhow::Result<Change> {
    let (_, change) = put.map_err(|e| refusal(file, &format!("{kind}s.{id}"), e))?;
    println!("{kind} {id}: {}", describe_change(&change));
    Ok(change)
}

async fn apply(files: &[PathBuf], db_path: &Path) -> anyhow::Result<()> {
    let db = open_db(db_path)?;
    let store = db.flows();
    let stored = store
        .list_channels()
        .await
        .context("cannot read the stored channels")?;
    let checked = check(files, &stored);
    if !checked.problems.is_empty() {
        print_problems(&checked.problems);
        bail!(
            "{} problem(s) found; nothing was applied",
            checked.problems.len()
        );
    }
    let secrets = db.secrets();
    let ports = AdminPorts {
        flows: store.as_ref(),
        secrets: secrets.as_ref(),
        clock: &SystemClock,
    };
    let actor = Actor::new("cli", Role::Admin);
    let mut counts = [0usize; 3];
    let mut tally = |change: &Change| match change {
        Change::Created => counts[0] += 1,
        Change::Updated { .. } => counts[1] += 1,
        Change::Unchanged => counts[2] += 1,
    };
    for (file, id, input, _) in checked.channels {
        let put = admin::put_channel(ports, &actor, &id, input).await;
        tally(&applied(&file, ("channel", id.as_str()), put)?);
    }
    for (file, id, input, _) in checked.flows {
        let put = admin::put_flow(ports, &actor, &id, input).await;
        tally(&applied(&file, ("flow", id.as_str()), put)?);
    }
    let [created, updated, unchanged] = counts;
    if created + updated == 0 {
        println!("nothing to change: {unchanged} record(s) already as in the file(s)");
    } else {
        println!("applied: {created} created, {updated} updated, {unchanged} unchanged");
    }
    Ok(())
}

/// Drops `null` members (left-out fields), recursively, for a tidy file.
fn without_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(without_nulls).collect())
        }
        other => other,
    }
}

async fn export(db_path: &Path, json: bool) -> anyhow::Result<()> {
    let db = open_db(db_path)?;
    let store = db.flows();
    let config = ConfigFile {
        channels: store
            .list_channels()
            .await?
            .iter()
            .map(|c| (c.channel_id.to_string(), ChannelInput::from(c)))
            .collect(),
        flows: store
            .list_flows(None)
            .await?
            .iter()
            .map(|f| (f.flow_id.to_string(), FlowInput::from(f)))
            .collect(),
    };
    let value = without_nulls(serde_json::to_value(&config)?);
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", serde_saphyr::to_string(&value)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_errors_do_not_quote_values() {
        let err = serde_saphyr::from_str::<ConfigFile>(
            "flows:\n  a:\n    activity_type: Juniper Testwell\n",
        )
        .unwrap_err();
        let text = describe_yaml_error(&err);
        assert!(!text.contains("Juniper"), "{text}");
        assert!(text.contains("line 3"), "{text}");
        let err = serde_saphyr::from_str::<ConfigFile>("flows:\n  a:\n    nmae: x\n").unwrap_err();
        let text = describe_yaml_error(&err);
        assert!(text.contains("unknown field `nmae`"), "{text} / {err}");
    }

    #[test]
    fn the_example_configuration_is_valid() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/flows.yaml");
        let checked = check(&[path], &[]);
        assert!(checked.problems.is_empty(), "{:?}", checked.problems);
        assert_eq!(checked.channels.len(), 1);
        assert_eq!(checked.flows.len(), 4);
    }

    #[test]
    fn exported_inputs_validate_back_to_the_same_values() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/flows.yaml");
        let checked = check(&[path], &[]);
        let config = ConfigFile {
            channels: checked
                .channels
                .iter()
                .map(|(_, id, _, c)| (id.to_string(), ChannelInput::from(c)))
                .collect(),
            flows: checked
                .flows
                .iter()
                .map(|(_, id, _, f)| (id.to_string(), FlowInput::from(f)))
                .collect(),
        };
        let yaml = serde_saphyr::to_string(&without_nulls(serde_json::to_value(&config).unwrap()))
            .unwrap();
        let back: ConfigFile = serde_saphyr::from_str(&yaml).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("export.yaml");
        std::fs::write(&file, &yaml).unwrap();
        let again = check(&[file], &[]);
        assert!(again.problems.is_empty(), "{:?}", again.problems);
        for ((_, _, _, a), (_, _, _, b)) in checked.flows.iter().zip(&again.flows) {
            assert_eq!(
                Flow {
                    created_at: b.created_at,
                    updated_at: b.updated_at,
                    ..a.clone()
                },
                *b
            );
        }
        assert_eq!(back.flows.len(), 4);
    }
}
