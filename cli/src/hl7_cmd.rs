//! `connector hl7 ...`: inspect an HL7 v2 message read from standard input.
//!
//! The message may be ER7 text with `\r`, `\n` or `\r\n` between segments, in the character
//! set its MSH-18 names, optionally wrapped in one MLLP frame. Output is UTF-8.
//!
//! - `connector hl7 get PATH...` prints each path's decoded value on its own line (an empty
//!   line when the path is absent; `""` for the HL7 null).
//! - `connector hl7 paths` prints `path<TAB>value` for every populated leaf, in message order.
//! - `connector hl7 ack [--code AA|AE|AR|CA|CE|CR]` prints an ACK for the message (an `AR`
//!   with an ERR segment when the input cannot be parsed), segments separated by `\n` for the
//!   terminal (use `tr '\n' '\r'` to get wire format), with a new control ID and the local time.
//!
//! In `get` and `paths` output, characters that would break the one-value-per-line format are
//! shown escaped: a line break as `\n`, a carriage return as `\r`, a tab as `\t`, and a
//! backslash as `\\`.

use std::io::{Read, Write};

use anyhow::{Context, Result, anyhow};
use connector_hl7::chrono::Local;
use connector_hl7::{AckBuilder, AckCode, ControlIdGenerator, Message, Path};

/// `connector hl7` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Hl7Command {
    /// Print the decoded value at each path, one per line (empty line when absent).
    Get {
        /// Field paths: SEG[occurrence]-field[repetition].component.subcomponent, e.g. PID-5.1,
        /// PID-3[2].1, OBX[3]-5, PID-11.1.2.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Print `path<TAB>value` for every populated leaf, in message order.
    Paths,
    /// Send message files to a connector, signed over HTTP or over MLLP, and print each ACK.
    Send(crate::hl7_send::SendArgs),
    /// A stand-in EHR: listen for MLLP and ACK every message (prints MSH-9 and MSH-10 only).
    Listen(crate::hl7_listen::ListenArgs),
    /// Print an ACK for the message (segments separated by newlines).
    Ack {
        /// MSA-1: AA, AE or AR (original mode), CA, CE or CR (enhanced mode).
        #[arg(long, default_value = "AA")]
        code: String,
    },
}

/// Runs one subcommand on the message read from `input`, writing to `out`.
pub fn run(cmd: Hl7Command, input: &mut dyn Read, out: &mut dyn Write) -> Result<()> {
    let mut raw = Vec::new();
    input
        .read_to_end(&mut raw)
        .context("reading the message from standard input")?;
    let bytes = unframe(&raw);
    match cmd {
        Hl7Command::Send(_) | Hl7Command::Listen(_) => {
            return Err(anyhow!(
                "`hl7 send` and `hl7 listen` do not read standard input"
            ));
        }
        Hl7Command::Get { paths } => {
            let paths = paths
                .iter()
                .map(|p| {
                    p.parse::<Path>()
                        .with_context(|| format!("invalid path {p:?}"))
                })
                .collect::<Result<Vec<Path>>>()?;
            let msg = parse(bytes)?;
            for path in &paths {
                let value = msg.get(path).unwrap_or_default();
                writeln!(out, "{}", for_terminal(&value))?;
            }
        }
        Hl7Command::Paths => {
            let msg = parse(bytes)?;
            for leaf in msg.leaves() {
                let value = leaf.value.as_str().unwrap_or_default();
                writeln!(out, "{}\t{}", leaf.path, for_terminal(value))?;
            }
        }
        Hl7Command::Ack { code } => {
            let code: AckCode = code
                .parse()
                .map_err(|_| anyhow!("--code must be AA, AE, AR, CA, CE or CR"))?;
            let now = Local::now();
            let control_id = ControlIdGenerator::random().next(now.to_utc());
            let builder = AckBuilder::new(code, &control_id).timestamp(now.fixed_offset());
            let ack = match Message::parse_bytes(bytes) {
                Ok(msg) => builder.build(&msg),
                Err(e) => builder.build_unparsable(bytes, &e),
            };
            out.write_all(ack.to_er7_with_terminator("\n").as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}

fn parse(bytes: &[u8]) -> Result<Message<'_>> {
    Message::parse_bytes(bytes).context("the input is not an HL7 v2 message")
}

/// The payload of an MLLP-framed input; the input itself otherwise.
fn unframe(raw: &[u8]) -> &[u8] {
    let Some(body) = raw.strip_prefix(&[0x0B]) else {
        return raw;
    };
    match body.iter().position(|&b| b == 0x1C) {
        Some(end) => body.get(..end).unwrap_or(body),
        None => body,
    }
}

/// Escapes what would break one-value-per-line output.
fn for_terminal(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '\n', '\r', '\t']) {
        return value.into();
    }
    let mut s = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = "MSH|^~\\&|EHR|CLINIC|CRM|HQ|20240102030405||ADT^A01^ADT_A01|MSG-1|P|2.5.1\r\
PID|1||123^^^MRN~456^^^SSN||Doe^Jane||19800101|F|||||||\"\"\r\
OBX|1|ST|X^Note||line1\\.br\\line2\\E\\end\r";

    fn run_str(cmd: Hl7Command, input: &[u8]) -> Result<String> {
        let mut out = Vec::new();
        run(cmd, &mut &input[..], &mut out)?;
        Ok(String::from_utf8(out)?)
    }

    #[test]
    fn get_prints_one_line_per_path() {
        let out = run_str(
            Hl7Command::Get {
                paths: ["PID-5.1", "PID-3[2].1", "ZZZ-1", "PID-15", "OBX-5", "MSH-9"]
                    .map(String::from)
                    .to_vec(),
            },
            MSG.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            out,
            "Doe\n456\n\n\"\"\nline1\\nline2\\\\end\nADT^A01^ADT_A01\n"
        );
    }

    #[test]
    fn get_rejects_bad_paths_and_bad_messages() {
        let err = run_str(
            Hl7Command::Get {
                paths: vec!["pid-5".into()],
            },
            MSG.as_bytes(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("invalid path"));
        let err = run_str(
            Hl7Command::Get {
                paths: vec!["PID-5".into()],
            },
            b"not hl7 Doe",
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("not an HL7 v2 message") && !text.contains("Doe"));
    }

    #[test]
    fn paths_lists_leaves_with_tabs() {
        let out = run_str(Hl7Command::Paths, MSG.as_bytes()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "MSH-1\t|");
        assert_eq!(lines[1], "MSH-2\t^~\\\\&");
        assert!(lines.contains(&"PID-3[2].4\tSSN"));
        assert!(lines.contains(&"PID-15\t\"\""));
        assert!(lines.contains(&"OBX-5\tline1\\nline2\\\\end"));
        assert!(!lines.iter().any(|l| l.starts_with("PID-2\t")));
    }

    #[test]
    fn ack_prints_newline_separated_segments() {
        let out = run_str(Hl7Command::Ack { code: "AE".into() }, MSG.as_bytes()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("MSH|^~\\&|CRM|HQ|EHR|CLINIC|"));
        assert!(lines[0].contains("|ACK^A01^ACK|"));
        assert_eq!(lines[1], "MSA|AE|MSG-1");
        assert!(out.ends_with('\n') && !out.contains('\r'));
    }

    #[test]
    fn ack_of_garbage_is_ar_and_mllp_input_is_unwrapped() {
        let out = run_str(Hl7Command::Ack { code: "AA".into() }, b"garbage").unwrap();
        assert!(out.contains("\nMSA|AR\n"), "{out}");
        assert!(
            out.contains("\nERR||MSH^1|100^Segment sequence error^HL70357|E\n")
                || out.contains("\nERR|")
        );
        let framed = [&[0x0B][..], MSG.as_bytes(), &[0x1C, 0x0D]].concat();
        let out = run_str(
            Hl7Command::Get {
                paths: vec!["MSH-10".into()],
            },
            &framed,
        )
        .unwrap();
        assert_eq!(out, "MSG-1\n");
        assert!(run_str(Hl7Command::Ack { code: "XX".into() }, MSG.as_bytes()).is_err());
    }
}
