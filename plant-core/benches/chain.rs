//! Append and verify throughput of the audit chain in memory.
//!
//! `cargo bench -p plant-core --no-default-features --bench chain`
//!
//! Payloads are ~300-byte canonical JSON records spread over 1,000 entities, as a catalog's
//! would be. Append is `Head::append` (one link hash and one payload hash per entry); verify is
//! `verify_chain` with one signed checkpoint at the head (every link recomputed, versions
//! tracked per entity). Database round-trips are not included.

use std::hint::black_box;
use std::time::{Duration, Instant};

use plant_core::Timestamp;
use plant_core::audit::{AuditEntry, CheckpointSigner, Head, NewEntry, verify_chain};
use uuid::Uuid;

const ENTITIES: u64 = 1_000;

fn new_entries(n: u64) -> Vec<NewEntry> {
    let mut versions = vec![0u64; ENTITIES as usize];
    (0..n)
        .map(|i| {
            let e = i % ENTITIES;
            versions[e as usize] += 1;
            let version = versions[e as usize];
            let payload = format!(
                concat!(
                    r#"{{"certification":{{"state":"certified"}},"#,
                    r#""description":"Writes long-form content, entry {i:010}","#,
                    r#""entity_type":"Agent","id":"{id}","industry_id":"0190f3a0-0000-7000-8000-000000000001","#,
                    r#""name":"Agent {e:04}","status":"active","tags":["content","seo"],"version":{v}}}"#
                ),
                i = i,
                id = Uuid::from_u128(u128::from(e) + 1),
                e = e,
                v = version,
            );
            NewEntry {
                entity_id: Uuid::from_u128(u128::from(e) + 1),
                entity_type: "Agent".to_owned(),
                entity_version: version,
                action: if version == 1 { "create" } else { "update" }.to_owned(),
                actor: "genesis".to_owned(),
                at: Timestamp::from_micros(1_767_225_600_000_000 + i as i64).unwrap_or_else(Timestamp::now),
                payload,
            }
        })
        .collect()
}

fn rate(n: u64, d: Duration) -> String {
    let per_sec = n as f64 / d.as_secs_f64();
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else {
        format!("{:.0} k/s", per_sec / 1e3)
    }
}

fn main() {
    let signer = CheckpointSigner::from_bytes(&[7; 32]);
    let trusted = [signer.public_key_hex()];
    println!("audit chain, in memory, ~300-byte payloads, {ENTITIES} entities");
    println!(
        "{:>10} | {:>12} {:>10} {:>10} | {:>12} {:>10} {:>10}",
        "entries", "append", "ns/entry", "rate", "verify", "ns/entry", "rate"
    );
    for n in [10_000u64, 100_000, 1_000_000] {
        let inputs = new_entries(n);
        let avg_payload = inputs.iter().map(|e| e.payload.len()).sum::<usize>() as u64 / n;

        let start = Instant::now();
        let mut head = Head::GENESIS;
        let mut chain: Vec<AuditEntry> = Vec::with_capacity(inputs.len());
        for entry in inputs {
            let appended = head.append(entry);
            head = appended.head();
            chain.push(appended);
        }
        let append = start.elapsed();

        let checkpoint = signer.sign(head, Timestamp::now());
        let start = Instant::now();
        let report = verify_chain(black_box(&chain), &[checkpoint], &trusted);
        let verify = start.elapsed();
        assert!(report.ok, "{:?}", report.first_break);

        println!(
            "{:>10} | {:>10.1?} {:>10.0} {:>10} | {:>10.1?} {:>10.0} {:>10}   (avg payload {avg_payload} B)",
            n,
            append,
            append.as_nanos() as f64 / n as f64,
            rate(n, append),
            verify,
            verify.as_nanos() as f64 / n as f64,
            rate(n, verify),
        );
    }
}
