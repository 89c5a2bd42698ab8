//! `connector flows ...` end to end: the real binary, the example configuration, a real
//! database file.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/flows.yaml")
}

/// Runs `connector` with `args`: (success, stdout, stderr). The example channel's HMAC secret
/// (`env:CONNECTOR_SECRET_NORTH_HMAC`) is set: a channel whose secret does not resolve is
/// not applied.
fn connector(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("CONNECTOR_SECRET_NORTH_HMAC", "cli-test-hmac-secret")
        .output()
        .expect("run connector");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs `connector flows test` of the example's `flow` with `(--message or --payload, file)`.
fn flows_test_run(flow: &str, (option, input): (&str, &Path)) -> (bool, String, String) {
    let example = example();
    connector(&[
        "flows",
        "test",
        path(&example),
        "--flow",
        flow,
        option,
        path(input),
    ])
}

/// [`flows_test_run`] that succeeds: what it printed, as JSON.
fn flows_test(flow: &str, input: (&str, &Path)) -> Value {
    let (ok, out, err) = flows_test_run(flow, input);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

const ADT_A04: &str = "MSH|^~\\&|EHR|NORTHCLINIC|CONNECTOR|CRM|20261121090000||ADT^A04^ADT_A01|MSG-77|P|2.5\r\
EVN|A04|20261121090000\r\
PID|1||MRN-EX-0042^^^NORTH^MR||Quill^Avery^R||19900215|M|||9 Test Way^^Springfield^IL^62701||(555)010-0142^PRN^PH~^NET^Internet^Avery.Quill@Example.org\r";

#[test]
fn the_example_validates() {
    let (ok, out, err) = connector(&["flows", "validate", path(&example())]);
    assert!(ok, "{err}");
    assert!(out.contains("1 channel(s), 4 flow(s)"), "{out}");
}

#[test]
fn validate_lists_every_problem_with_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        r#"
channels:
  north-ehr:
    name: North
    inbound: { secret: "hunter2-plain-secret" }
flows:
  intake:
    name: Intake
    channel_id: no-such-channel
    direction: ehr_to_crm
    entity: lead
    event_type: ADT^A04
    lead_sync: sometimes
    primary_search: { crm_field: mx_MRN, hl7_path: PID-3.1 }
    mrn_crm_field: mx_Other
    template: "MSH|^~\\&|A|B|C|D|20240101||ADT^A04|1|P|2.5\rPID|1||Zephyrine-MRN"
    mappings:
      - { hl7_path: PID-5.1 }
"#,
    )
    .unwrap();
    let (ok, out, err) = connector(&["flows", "validate", path(&bad)]);
    assert!(!ok);
    assert!(out.is_empty(), "{out}");
    let file = path(&bad);
    for expected in [
        format!("{file}: channels.north-ehr.inbound.secret: must be env:NAME"),
        format!("{file}: flows.intake.lead_sync: must be capture"),
        format!("{file}: flows.intake.mrn_crm_field: must be the crm_field of primary_search"),
        format!("{file}: flows.intake.mappings[0].crm_field: is required"),
        format!("{file}: flows.intake.channel_id: names no channel"),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("5 problem(s)"), "{err}");
    assert!(
        !err.contains("hunter2") && !err.contains("Zephyrine"),
        "{err}"
    );

    // A file that is not YAML gets a position; an unknown field is named.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "flows:\n  a:\n    nmae: Zephyrine\n").unwrap();
    let (ok, _, err) = connector(&["flows", "validate", path(&broken)]);
    assert!(!ok);
    assert!(
        err.contains("line 3") && err.contains("unknown field `nmae`"),
        "{err}"
    );
    assert!(!err.contains("Zephyrine"), "{err}");
}

#[test]
fn apply_twice_changes_nothing_the_second_time_and_export_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("connector.db");
    let (ok, out, err) = connector(&["flows", "apply", path(&example()), "--db", path(&db)]);
    assert!(ok, "{err}");
    assert!(out.contains("channel north-ehr: created"), "{out}");
    assert!(out.contains("flow register-patients: created"), "{out}");
    assert!(
        out.contains("applied: 5 created, 0 updated, 0 unchanged"),
        "{out}"
    );

    let (ok, out, err) = connector(&["flows", "apply", path(&example()), "--db", path(&db)]);
    assert!(ok, "{err}");
    assert!(out.contains("flow register-patients: unchanged"), "{out}");
    assert!(out.contains("nothing to change"), "{out}");

    // Export, then apply the export: nothing changes.
    let (ok, exported, err) = connector(&["flows", "export", "--db", path(&db)]);
    assert!(ok, "{err}");
    assert!(exported.contains("register-patients:"), "{exported}");
    let file = dir.path().join("export.yaml");
    std::fs::write(&file, &exported).unwrap();
    let (ok, out, err) = connector(&["flows", "apply", path(&file), "--db", path(&db)]);
    assert!(ok, "{err}");
    assert!(out.contains("nothing to change"), "{out}");

    // A changed file updates only what changed, naming the fields.
    let changed = std::fs::read_to_string(example())
        .unwrap()
        .replace("lead_sync: update_only", "lead_sync: capture");
    let file = dir.path().join("changed.yaml");
    std::fs::write(&file, changed).unwrap();
    let (ok, out, err) = connector(&["flows", "apply", path(&file), "--db", path(&db)]);
    assert!(ok, "{err}");
    assert!(
        out.contains("flow update-patients: updated (lead_sync)"),
        "{out}"
    );
    assert!(out.contains("1 updated, 4 unchanged"), "{out}");

    // JSON export holds the same records.
    let (ok, json, _) = connector(&["flows", "export", "--db", path(&db), "--json"]);
    assert!(ok);
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["flows"].as_object().unwrap().len(), 4);
    assert_eq!(
        json["channels"]["north-ehr"]["crm_webhook"]["header_name"],
        "x-connector-webhook-token"
    );
}

#[test]
fn apply_refuses_invalid_files_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("connector.db");
    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(example())
        .unwrap()
        .replace("mrn_crm_field: mx_MRN\n    template: |\n      MSH|^~\\&|EHR|NORTHCLINIC|CONNECTOR|CRM|20260309", "mrn_crm_field: mx_Nope\n    template: |\n      MSH|^~\\&|EHR|NORTHCLINIC|CONNECTOR|CRM|20260309");
    std::fs::write(&bad, text).unwrap();
    let (ok, out, err) = connector(&["flows", "apply", path(&bad), "--db", path(&db)]);
    assert!(!ok);
    assert!(err.contains("flows.appointments.mrn_crm_field"), "{err}");
    assert!(err.contains("nothing was applied"), "{err}");
    assert!(!out.contains("created"), "{out}");
    let (ok, exported, _) = connector(&["flows", "export", "--db", path(&db), "--json"]);
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&exported).unwrap(),
        serde_json::json!({})
    );
}

#[test]
fn test_prints_the_plan_without_a_crm() {
    let dir = tempfile::tempdir().unwrap();
    let message = dir.path().join("adt.hl7");
    std::fs::write(&message, ADT_A04).unwrap();
    let plan = flows_test("register-patients", ("--message", &message));
    assert_eq!(plan["direction"], "ehr_to_crm");
    assert_eq!(plan["lead"]["sync"], "capture");
    assert_eq!(plan["lead"]["search"][0]["field"], "mx_MRN");
    assert_eq!(plan["lead"]["search"][0]["value"], "MRN-EX-0042");
    assert_eq!(
        plan["lead"]["search"][1]["value"],
        "avery.quill@example.org"
    );
    let create = plan["lead"]["fields_for_create"].as_array().unwrap();
    assert!(create.contains(&serde_json::json!({"field": "Source", "value": "EHR Connector"})));
    assert!(create.contains(&serde_json::json!({"field": "Mobile", "value": "+15550100142"})));
    let update = plan["lead"]["fields_for_update"].as_array().unwrap();
    assert!(!update.iter().any(|f| f["field"] == "Source"));

    // A crm_to_ehr flow takes a webhook payload and prints the HL7 message it would build.
    let payload = dir.path().join("lead.json");
    std::fs::write(
        &payload,
        r#"{"ProspectID":"p-1","FirstName":"Avery","LastName":"Quill","mx_MRN":"MRN-EX-0042"}"#,
    )
    .unwrap();
    let built = flows_test("lead-updates-to-ehr", ("--payload", &payload));
    assert_eq!(built["direction"], "crm_to_ehr");
    let pid = built["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s.as_str().unwrap().starts_with("PID|"))
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        pid.contains("MRN-EX-0042") && pid.contains("Quill^Avery"),
        "{pid}"
    );

    // A message that does not map: every problem, by path, exit 1.
    let no_mrn = dir.path().join("no-mrn.hl7");
    std::fs::write(
        &no_mrn,
        ADT_A04.replace("MRN-EX-0042^^^NORTH^MR||Quill^Avery^R", "||"),
    )
    .unwrap();
    let (ok, _, err) = flows_test_run("register-patients", ("--message", &no_mrn));
    assert!(!ok);
    assert!(err.contains("message.PID-3.1"), "{err}");
    assert!(err.contains("message.PID-5.1"), "{err}");

    // An unknown flow is named.
    let (ok, _, err) = flows_test_run("nope", ("--message", &message));
    assert!(!ok);
    assert!(err.contains("has no flow nope"), "{err}");
}
