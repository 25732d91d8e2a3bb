//! Random operation sequences for the read model's story ([`plant_core::read_model::story`]).
#![allow(dead_code)]

use plant_core::read_model::story::{Op, Step};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    let n = || 0usize..16;
    prop_oneof![
        1 => Just(Op::CreateIndustry),
        1 => Just(Op::CreateSkill),
        1 => n().prop_map(|skill| Op::CreateJobRole { skill }),
        1 => n().prop_map(|role| Op::CreateTeam { role }),
        1 => (n(), n(), n()).prop_map(|(skill, role, industry)| Op::CreateAgent {
            skill,
            role,
            industry
        }),
        3 => (n(), n(), any::<bool>()).prop_map(|(kind, pick, external)| Op::Patch {
            kind,
            pick,
            external
        }),
        1 => (n(), n()).prop_map(|(kind, pick)| Op::Archive { kind, pick }),
        2 => (n(), n()).prop_map(|(kind, pick)| Op::Certify { kind, pick }),
        2 => (n(), proptest::option::of(n())).prop_map(|(agent, team)| Op::AssignTeam { agent, team }),
        1 => Just(Op::CreatePrecedent),
        1 => n().prop_map(|pick| Op::SupersedePrecedent { pick }),
        1 => proptest::collection::vec((n(), n()), 1..6).prop_map(|picks| Op::BatchCertify { picks }),
        1 => n().prop_map(|agent| Op::BookTrial { agent }),
    ]
}

/// Steps: an operation, and whether it is written straight on the store (another process).
pub fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((op(), any::<bool>()), 1..max)
}

/// Runs one case on a runtime of its own (two workers: the model's follower runs beside the
/// operations).
pub fn block_on<F: std::future::Future>(case: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(case)
}
