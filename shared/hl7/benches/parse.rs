//! Parse-and-read benchmark: connector-hl7 against `er7`, `hl7-v2`, `rust-hl7`, `hl7-parser`
//! and python-hl7, side by side in one run, on one generated corpus.
//!
//! Task per message: parse, then read MSH-9 (whole field), MSH-10, PID-3.1, PID-5.1 (decoded:
//! escape sequences resolved), PV1-3.1 and OBX-3.1 of every OBX.
//!
//! Corpus: a deterministic generator (seed below) of ADT, SIU and ORU messages of 300 B to
//! 50 KB (ORU with up to 600 OBX), some values holding escape sequences.
//!
//! Run (release; `cargo bench` builds with the bench profile):
//!   cargo bench -p connector-hl7 --bench parse -- [--mb 24] [--passes 5] [--no-python]
//! Figures: MB/s and messages/s of the best pass (the Rust parsers' passes are interleaved,
//! one pass of each per round, so a busy machine slows them alike); allocations (+ reallocations) per message
//! counted with a counting global allocator (`stats_alloc`). python-hl7 (PyPI `hl7`) runs in a
//! subprocess on the same corpus written to a temporary file (`benches/python_hl7_bench.py`);
//! it is skipped when `python3 -c "import hl7"` fails.

use std::alloc::System;
use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SEED: u64 = 0x0005_EED0_F4C7;

/// SplitMix64: small, deterministic, good enough for a corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const FAMILY: &[&str] = &[
    "Testperson",
    "Sample",
    "Example",
    "Fictive",
    "Placeholder",
    "Demo",
    "Mock",
    "Dummy",
];
const FAMILY_ESCAPED: &[&str] = &[
    "Smith\\T\\Jones",
    "O\\S\\Hara",
    "Doe\\F\\Roe",
    "Ann\\E\\Lee",
];
const GIVEN: &[&str] = &[
    "Alma", "Bruno", "Carla", "Dora", "Emil", "Fran", "Gus", "Hana",
];
const TESTS: &[&str] = &[
    "2093-3^Cholesterol^LN",
    "2571-8^Triglycerides^LN",
    "2085-9^HDL^LN",
    "718-7^Hemoglobin^LN",
    "6690-2^Leukocytes^LN",
    "789-8^Erythrocytes^LN",
    "2345-7^Glucose^LN",
    "2160-0^Creatinine^LN",
];

fn msh(r: &mut Rng, kind: &str, n: usize, version: &str) -> String {
    format!(
        "MSH|^~\\&|EHR|NORTHCLINIC|CRM|CONNECTOR|2024{:02}{:02}{:02}{:02}00||{kind}|MSG{n:08}|P|{version}\r",
        1 + r.below(12),
        1 + r.below(28),
        r.below(24),
        r.below(60)
    )
}

fn pid(r: &mut Rng) -> String {
    let family = if r.chance(20) {
        r.pick(FAMILY_ESCAPED)
    } else {
        r.pick(FAMILY)
    };
    format!(
        "PID|1||{}^^^NORTHCLINIC^MR~{}^^^USSSA^SS||{family}^{}^{}||19{:02}0{}1{}|{}|||{} Main St^^Town^ST^{:05}||(555)555-{:04}\r",
        r.below(10_000_000),
        r.below(1_000_000_000),
        r.pick(GIVEN),
        r.pick(&["A", "B", ""]),
        r.below(100),
        1 + r.below(9),
        r.below(10),
        r.pick(&["F", "M", "X"]),
        r.below(999),
        r.below(99_999),
        r.below(10_000)
    )
}

fn pv1(r: &mut Rng) -> String {
    format!(
        "PV1|1|{}|WARD{}^{}^{}^NORTHCLINIC||||{}^Doctorly^Dana^^^DR|||MED||||7|||{}^Doctorly^Dana|IN\r",
        r.pick(&["I", "O", "E"]),
        r.below(20),
        r.below(40),
        r.pick(&["A", "B"]),
        r.below(9999),
        r.below(9999)
    )
}

fn adt(r: &mut Rng, n: usize) -> String {
    let trig = r.pick(&["A01", "A04", "A08", "A28"]);
    let mut m = msh(r, &format!("ADT^{trig}^ADT_A01"), n, "2.5.1");
    m += &format!("EVN|{trig}|20240101120000\r");
    m += &pid(r);
    for i in 0..r.below(3) {
        m += &format!(
            "NK1|{}|{}^{}|SPO^Spouse||(555)555-0100\r",
            i + 1,
            r.pick(FAMILY),
            r.pick(GIVEN)
        );
    }
    m += &pv1(r);
    for i in 0..r.below(4) {
        m += &format!(
            "AL1|{}|DA|^{}|MO|Rash\r",
            i + 1,
            r.pick(&["Penicillin", "Latex", "Pollen"])
        );
    }
    if r.chance(30) {
        m += "NTE|1|L|Patient prefers mornings\\.br\\Call ahead \\T\\ confirm\r";
    }
    m
}

fn siu(r: &mut Rng, n: usize) -> String {
    let trig = r.pick(&["S12", "S14", "S15"]);
    let mut m = msh(r, &format!("SIU^{trig}^SIU_S12"), n, "2.5");
    m += &format!(
        "SCH|{0}^{0}|{1}^{1}|||{0}|OFFICE^Office visit|reason \\T\\ notes|OFFICE|30|m|^^30^20240316110000^20240316113000|||||JOHNSON^PAT^A||||JOHNSON^PAT^A|||||Booked\r",
        r.below(100_000),
        r.below(10_000_000)
    );
    m += &pid(r);
    m += &pv1(r);
    m += "RGS|1|A\r";
    m += "AIS|1|A|99213^Office visit est^CPT|20240316110000|0|m|30|m\r";
    m += "AIG|1|A|4711^Doctorly^Dana|DOCTOR\r";
    m += "AIL|1|A|NORTH^ROOM 3^^NORTHCLINIC\r";
    m += "AIP|1|A|4711^Doctorly^Dana^^^DR|ATTENDING\r";
    m
}

fn oru(r: &mut Rng, n: usize) -> String {
    let mut m = msh(r, "ORU^R01^ORU_R01", n, "2.5.1");
    m += &pid(r);
    if r.chance(70) {
        m += &pv1(r);
    }
    let groups = 1 + r.below(4);
    let total_obx = 4 + r.below(600);
    let mut seq = 0;
    for g in 0..groups {
        m += &format!(
            "OBR|{}|ORD-{n}|LAB-{n}|24331-1^Lipid panel^LN|||20240320080000|||||||||4711^Doctorly^Dana||||||20240320142500|||F\r",
            g + 1
        );
        for _ in 0..total_obx / groups {
            seq += 1;
            if r.chance(10) {
                m += &format!(
                    "OBX|{seq}|FT|48767-8^Comment^LN||Fasting 12h\\.br\\Ratio chol\\F\\HDL {}||||||F\r",
                    r.below(100)
                );
            } else {
                m += &format!(
                    "OBX|{seq}|NM|{}||{}.{}|mg/dL|<200|{}|||F|||20240320080000\r",
                    r.pick(TESTS),
                    r.below(300),
                    r.below(10),
                    r.pick(&["N", "H", "L"])
                );
            }
        }
    }
    m
}

fn corpus(target_bytes: usize) -> Vec<String> {
    let mut r = Rng(SEED);
    let mut out = Vec::new();
    let mut size = 0;
    while size < target_bytes {
        let n = out.len();
        let m = match r.below(100) {
            0..=59 => adt(&mut r, n),
            60..=84 => siu(&mut r, n),
            _ => oru(&mut r, n),
        };
        size += m.len();
        out.push(m);
    }
    out
}

// ---- the task, once per implementation -------------------------------------------------------

fn ours(text: &str) -> usize {
    use connector_hl7::Message;
    let Ok(m) = Message::parse(text) else {
        return 0;
    };
    ours_read(&m)
}

fn ours_bytes(text: &str) -> usize {
    use connector_hl7::Message;
    let Ok(m) = Message::parse_bytes(text.as_bytes()) else {
        return 0;
    };
    ours_read(&m)
}

fn ours_read(m: &connector_hl7::Message<'_>) -> usize {
    let len = |v: connector_hl7::Value<'_>| v.as_str().map_or(0, str::len);
    let msh = m.msh();
    let mut total = len(msh.value_at(9, 1, None, None)) + len(msh.value_at(10, 1, None, None));
    if let Some(pid) = m.segment("PID") {
        total += len(pid.value_at(3, 1, Some(1), None));
        total += len(pid.value_at(5, 1, Some(1), None));
    }
    if let Some(pv1) = m.segment("PV1") {
        total += len(pv1.value_at(3, 1, Some(1), None));
    }
    for obx in m.segments_named("OBX") {
        total += len(obx.value_at(3, 1, Some(1), None));
    }
    total
}

struct OurPaths {
    msh9: connector_hl7::Path,
    msh10: connector_hl7::Path,
    pid3: connector_hl7::Path,
    pid5: connector_hl7::Path,
    pv13: connector_hl7::Path,
}

fn ours_paths(text: &str, p: &OurPaths) -> usize {
    use connector_hl7::Message;
    let Ok(m) = Message::parse(text) else {
        return 0;
    };
    let len = |v: Option<std::borrow::Cow<'_, str>>| v.map_or(0, |s| s.len());
    let mut total = len(m.get(&p.msh9)) + len(m.get(&p.msh10)) + len(m.get(&p.pid3));
    total += len(m.get(&p.pid5)) + len(m.get(&p.pv13));
    for obx in m.segments_named("OBX") {
        total += obx
            .value_at(3, 1, Some(1), None)
            .as_str()
            .map_or(0, str::len);
    }
    total
}

struct Er7Paths {
    msh9: er7::Path,
    msh10: er7::Path,
    pid3: er7::Path,
    pid5: er7::Path,
    pv13: er7::Path,
    obx3: er7::Path,
}

fn er7_task(text: &str, p: &Er7Paths) -> usize {
    let Ok(m) = er7::parse(text) else { return 0 };
    let first = |path: &er7::Path| m.query_path(path).first().map_or(0, String::len);
    let mut total = first(&p.msh9) + first(&p.msh10) + first(&p.pid3) + first(&p.pid5);
    total += first(&p.pv13);
    total += m.query_path(&p.obx3).iter().map(String::len).sum::<usize>();
    total
}

fn hl7v2_task(text: &str) -> usize {
    let Ok(m) = hl7_v2::Hl7Message::parse(text.as_bytes()) else {
        return 0;
    };
    let comp1 = |seg: Option<&hl7_v2::Segment<'_>>, f: usize| {
        seg.and_then(|s| s.field(f))
            .and_then(|f| f.component(1).map(str::len))
            .unwrap_or(0)
    };
    let mut total =
        m.message_type().map_or(0, str::len) + m.message_control_id().map_or(0, str::len);
    total += comp1(m.segment("PID"), 3) + comp1(m.segment("PID"), 5) + comp1(m.segment("PV1"), 3);
    for obx in m.segments("OBX") {
        total += comp1(Some(obx), 3);
    }
    total
}

fn rusthl7_task(text: &str) -> usize {
    use rusthl7::escape_sequence::EscapeSequence;
    use rusthl7::message::Message;
    let Ok(m) = Message::try_from(text) else {
        return 0;
    };
    let decoder = EscapeSequence::new(m.get_separators());
    let Ok(msh) = m.segments_by_name("MSH") else {
        return 0;
    };
    fn field<'a>(seg: Option<&&rusthl7::segments::Segment<'a>>, n: usize) -> &'a str {
        seg.and_then(|s| s.fields.get(n))
            .map(|f| f[(0, 0)])
            .unwrap_or("")
    }
    // rust-hl7 counts MSH fields from MSH-2 (fields[1]), so MSH-9 is fields[8].
    let whole = |seg: Option<&&rusthl7::segments::Segment<'_>>, n: usize| {
        seg.and_then(|s| s.fields.get(n))
            .map_or(0, |f| f.as_str().len())
    };
    let mut total = whole(msh.first(), 8) + whole(msh.first(), 9);
    if let Ok(pid) = m.segments_by_name("PID") {
        total += field(pid.first(), 3).len();
        total += decoder.decode(field(pid.first(), 5)).len();
    }
    if let Ok(pv1) = m.segments_by_name("PV1") {
        total += field(pv1.first(), 3).len();
    }
    if let Ok(obx) = m.segments_by_name("OBX") {
        for s in &obx {
            total += field(Some(s), 3).len();
        }
    }
    total
}

fn hl7parser_task(text: &str) -> usize {
    let Ok(m) = hl7_parser::Message::parse(text) else {
        return 0;
    };
    let raw = |q: &str| m.query(q).map_or("", |r| r.raw_value());
    let mut total = raw("MSH.9").len() + raw("MSH.10").len() + raw("PID.3.1").len();
    total += m.separators.decode(raw("PID.5.1")).to_string().len();
    total += raw("PV1.3.1").len();
    for s in m.segments().filter(|s| s.name == "OBX") {
        total += s
            .field(3)
            .and_then(|f| f.component(1))
            .map_or(0, |c| c.raw_value().len());
    }
    total
}

// ---- measurement ---------------------------------------------------------------------------

struct Row {
    name: &'static str,
    seconds: f64,
    allocs_per_msg: Option<f64>,
    checksum: usize,
    note: &'static str,
}

type Task<'a> = (&'static str, &'static str, &'a dyn Fn(&str) -> usize);

/// Counts allocations in one pass per task (also the warm-up), then times `passes` rounds in
/// which every task runs once, interleaved, so that a busy machine slows them all alike; each
/// task keeps its best pass.
fn measure_all(tasks: &[Task<'_>], corpus: &[String], passes: usize) -> Vec<Row> {
    let mut rows: Vec<Row> = tasks
        .iter()
        .map(|(name, note, f)| {
            let region = Region::new(GLOBAL);
            let mut checksum = 0;
            for m in corpus {
                checksum += black_box(f(black_box(m)));
            }
            let stats = region.change();
            let allocs = (stats.allocations + stats.reallocations) as f64 / corpus.len() as f64;
            Row {
                name,
                seconds: f64::MAX,
                allocs_per_msg: Some(allocs),
                checksum,
                note,
            }
        })
        .collect();
    for _ in 0..passes {
        for ((_, _, f), row) in tasks.iter().zip(rows.iter_mut()) {
            let start = Instant::now();
            let mut sum = 0;
            for m in corpus {
                sum += black_box(f(black_box(m)));
            }
            black_box(sum);
            row.seconds = row.seconds.min(start.elapsed().as_secs_f64());
        }
    }
    rows
}

fn python_row(corpus: &[String], passes: usize) -> Option<Row> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_hl7_bench.py");
    let ok = std::process::Command::new("python3")
        .args(["-c", "import hl7"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "python-hl7 skipped: `python3 -c \"import hl7\"` failed (pip install hl7==0.4.5)"
        );
        return None;
    }
    let path = std::env::temp_dir().join(format!("hl7-bench-corpus-{}.txt", std::process::id()));
    let mut file = std::fs::File::create(&path).ok()?;
    for m in corpus {
        file.write_all(m.as_bytes()).ok()?;
        file.write_all(b"\n").ok()?;
    }
    drop(file);
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&path)
        .arg(passes.to_string())
        .output()
        .ok();
    let _ = std::fs::remove_file(&path);
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let seconds: f64 = parts.next()?.parse().ok()?;
    let _messages: usize = parts.next()?.parse().ok()?;
    let _bytes: usize = parts.next()?.parse().ok()?;
    let checksum: usize = parts.next()?.parse().ok()?;
    Some(Row {
        name: "python-hl7 0.4.5 (CPython 3.11)",
        seconds,
        allocs_per_msg: None,
        checksum,
        note: "subprocess, same corpus; allocations not counted",
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let mb = value("--mb").unwrap_or(24);
    let passes = value("--passes").unwrap_or(5).max(1);
    let python = !args.iter().any(|a| a == "--no-python");

    let corpus = corpus(mb * 1_000_000);
    let bytes: usize = corpus.iter().map(String::len).sum();
    let (min, max) = corpus.iter().fold((usize::MAX, 0), |(lo, hi), m| {
        (lo.min(m.len()), hi.max(m.len()))
    });
    let escaped = corpus
        .iter()
        .filter(|m| m.get(8..).is_some_and(|rest| rest.contains('\\')))
        .count();
    println!(
        "corpus: {} messages, {:.1} MB, {min} B to {max} B per message, {escaped} with escape sequences (seed {SEED:#x}); best of {passes} passes",
        corpus.len(),
        bytes as f64 / 1e6
    );

    let ours_p = OurPaths {
        msh9: "MSH-9".parse().expect("path"),
        msh10: "MSH-10".parse().expect("path"),
        pid3: "PID-3.1".parse().expect("path"),
        pid5: "PID-5.1".parse().expect("path"),
        pv13: "PV1-3.1".parse().expect("path"),
    };
    let er7_p = Er7Paths {
        msh9: er7::Path::parse("MSH-9").expect("path"),
        msh10: er7::Path::parse("MSH-10").expect("path"),
        pid3: er7::Path::parse("PID-3.1").expect("path"),
        pid5: er7::Path::parse("PID-5.1").expect("path"),
        pv13: er7::Path::parse("PV1-3.1").expect("path"),
        obx3: er7::Path::parse("OBX-3.1").expect("path"),
    };

    let paths_task = |t: &str| ours_paths(t, &ours_p);
    let er7_task_p = |t: &str| er7_task(t, &er7_p);
    let tasks: Vec<Task<'_>> = vec![
        (
            "connector-hl7 Message::parse (&str)",
            "decodes escapes",
            &ours,
        ),
        (
            "connector-hl7 Message::parse_bytes",
            "MSH-18 + UTF-8 check, decodes escapes",
            &ours_bytes,
        ),
        (
            "connector-hl7 via Path (get)",
            "decodes escapes",
            &paths_task,
        ),
        ("er7 0.1.4", "decodes escapes (query_path)", &er7_task_p),
        (
            "hl7-v2 0.1.0",
            "no repetitions, no escape decoding",
            &hl7v2_task,
        ),
        (
            "rust-hl7 0.5.0",
            "decodes PID-5.1 with EscapeSequence",
            &rusthl7_task,
        ),
        (
            "hl7-parser 0.3.0",
            "decodes PID-5.1 with Separators::decode",
            &hl7parser_task,
        ),
    ];
    let mut rows = measure_all(&tasks, &corpus, passes);
    if python {
        rows.extend(python_row(&corpus, passes.min(3)));
    }

    let er7_secs = rows
        .iter()
        .find(|r| r.name.starts_with("er7"))
        .map(|r| r.seconds);
    let v2_secs = rows
        .iter()
        .find(|r| r.name.starts_with("hl7-v2"))
        .map(|r| r.seconds);
    let reference = rows.first().map_or(0, |r| r.checksum);
    println!();
    println!(
        "| parser | MB/s | messages/s | allocations/message | ours is x faster | checksum | notes |"
    );
    println!("|---|---:|---:|---:|---:|---|---|");
    let ours_secs = rows.first().map_or(1.0, |r| r.seconds);
    for r in &rows {
        let mbps = bytes as f64 / 1e6 / r.seconds;
        let mps = corpus.len() as f64 / r.seconds;
        let allocs = r
            .allocs_per_msg
            .map_or("n/a".to_owned(), |a| format!("{a:.2}"));
        let speedup = r.seconds / ours_secs;
        let same = if r.checksum == reference {
            "same"
        } else {
            "differs"
        };
        println!(
            "| {} | {mbps:.0} | {mps:.0} | {allocs} | {speedup:.1} | {same} | {} |",
            r.name, r.note
        );
    }
    if let (Some(e), Some(v)) = (er7_secs, v2_secs) {
        println!();
        println!(
            "connector-hl7 (&str) vs er7: {:.1}x, vs hl7-v2: {:.2}x",
            e / ours_secs,
            v / ours_secs
        );
    }
}
