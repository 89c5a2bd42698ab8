//! `connector hl7 ...` end to end: the real binary, a message on standard input.

use std::process::Command;

#[path = "support/server.rs"]
mod server;
use server::run;

const MSG: &str = "MSH|^~\\&|EHR|CLINIC|CRM|HQ|20240102030405||SIU^S12^SIU_S12|SIU-9|P|2.5\r\
SCH|1|2|||||||||^^30^20240316110000\r\
PID|1||42^^^CLINIC^MR||Testperson^Alma^B||19750704|F\r\
OBX|1|ST|A^One||first\r\
OBX|2|ST|B^Two||second \\T\\ more\r";

fn connector(args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    run(
        Command::new(env!("CARGO_BIN_EXE_connector")).args(args),
        stdin,
    )
}

#[test]
fn get_prints_values_in_order() {
    let (ok, out, _) = connector(
        &[
            "hl7", "get", "PID-5.1", "OBX[2]-5", "PV1-3.1", "SCH-11.4", "MSH-9.2",
        ],
        MSG.as_bytes(),
    );
    assert!(ok);
    assert_eq!(out, "Testperson\nsecond & more\n\n20240316110000\nS12\n");
}

#[test]
fn paths_lists_every_leaf() {
    let (ok, out, _) = connector(&["hl7", "paths"], MSG.replace('\r', "\n").as_bytes());
    assert!(ok);
    assert!(out.contains("PID-5.2\tAlma\n"));
    assert!(out.contains("OBX[2]-3.1\tB\n"));
    assert!(out.contains("OBX[2]-5\tsecond & more\n"));
    let first: Vec<&str> = out.lines().take(3).collect();
    assert_eq!(first, ["MSH-1\t|", "MSH-2\t^~\\\\&", "MSH-3\tEHR"]);
}

#[test]
fn ack_answers_the_message() {
    let (ok, out, _) = connector(&["hl7", "ack", "--code", "AR"], MSG.as_bytes());
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("MSH|^~\\&|CRM|HQ|EHR|CLINIC|"));
    assert!(lines[0].contains("|ACK^S12^ACK|"));
    assert_eq!(lines[1], "MSA|AR|SIU-9");
}

#[test]
fn errors_are_reported_without_content() {
    let (ok, _, err) = connector(&["hl7", "get", "PID-5"], b"Testperson is not HL7");
    assert!(!ok);
    assert!(err.contains("not an HL7 v2 message"));
    assert!(!err.contains("Testperson"));
    let (ok, _, err) = connector(&["hl7", "get", "PID5"], MSG.as_bytes());
    assert!(!ok);
    assert!(err.contains("invalid path"));
}
