//! The command line without a database: help, tokens, keys, and configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use plant_core::audit::{
    CheckpointSigner, MerkleTree, NoteSigner, NoteVerifier, SigType, TreeHead, open_checkpoint,
};
use serde_json::Value;
use support::{assert_exit, cli, random_secret, run, scratch_dir, stderr, stdout};

const SUBCOMMANDS: &[&str] = &[
    "migrate",
    "seed",
    "verify",
    "checkpoint",
    "token",
    "keygen",
    "embed",
    "witness",
];

#[test]
fn help_lists_every_subcommand_and_the_exit_codes() {
    let out = run(&mut cli(&["--help"]));
    assert_exit(&out, 0);
    let help = stdout(&out);
    for sub in SUBCOMMANDS {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{help}"
        );
    }
    assert!(help.contains("Exit codes"), "{help}");
    assert!(help.contains("3  database unavailable"), "{help}");
}

#[test]
fn every_option_names_its_environment_variable() {
    for (sub, vars) in [
        ("migrate", &["DATABASE_URL"][..]),
        (
            "seed",
            &["DATABASE_URL", "PLANT_SEED_FILE", "PLANT_EMBED_MODEL_DIR"],
        ),
        (
            "verify",
            &[
                "DATABASE_URL",
                "PLANT_TRUSTED_KEYS",
                "PLANT_LOG_ORIGIN",
                "PLANT_LOG_VKEY",
                "PLANT_VERIFY_CHECKPOINT",
            ],
        ),
        (
            "witness",
            &[
                "PLANT_LOG_VKEY",
                "PLANT_WITNESS_NAME",
                "PLANT_WITNESS_KEY_FILE",
                "PLANT_WITNESS_STATE",
            ],
        ),
        (
            "checkpoint",
            &[
                "PLANT_SIGNING_KEY",
                "PLANT_SIGNING_KEY_FILE",
                "PLANT_CHECKPOINT_FILE",
                "PLANT_LOG_ORIGIN",
            ],
        ),
        ("token", &["PLANT_JWT_SECRET", "PLANT_TOKEN_TTL"]),
        ("keygen", &["PLANT_KEYGEN_OUT"]),
        ("embed", &["DATABASE_URL", "PLANT_EMBED_BATCH"]),
    ] {
        let out = run(&mut cli(&[sub, "--help"]));
        assert_exit(&out, 0);
        let help = stdout(&out);
        for var in vars {
            assert!(help.contains(var), "{sub} --help lacks {var}:\n{help}");
        }
    }
}

#[test]
fn secrets_in_the_environment_are_not_shown_in_help() {
    let out =
        run(cli(&["token", "--help"]).env("PLANT_JWT_SECRET", "do-not-print-this-secret-value"));
    assert_exit(&out, 0);
    assert!(
        !stdout(&out).contains("do-not-print-this"),
        "{}",
        stdout(&out)
    );
}

fn decode_claims(token: &str, secret: &str) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    decode::<Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("the token decodes with the same secret")
    .claims
}

#[test]
fn token_decodes_with_the_same_secret_and_carries_the_claims() {
    let secret = random_secret();
    let agent = uuid::Uuid::new_v4().to_string();
    let out = run(cli(&[
        "token",
        "--role",
        "agent",
        "--agent-id",
        &agent,
        "--email",
        "Bot@Example.com",
        "--ttl",
        "600",
    ])
    .env("PLANT_JWT_SECRET", &secret));
    assert_exit(&out, 0);
    let token = stdout(&out).trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "one JWT on stdout: {token}");

    let claims = decode_claims(&token, &secret);
    assert_eq!(claims["sub"], agent);
    assert_eq!(claims["role"], "agent");
    assert_eq!(claims["roles"], serde_json::json!(["agent"]));
    assert_eq!(claims["agent_id"], agent);
    assert_eq!(claims["email"], "bot@example.com");
    let (iat, nbf, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["nbf"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(nbf, iat);
    assert_eq!(exp, iat + 600);

    let wrong = random_secret();
    assert!(
        decode::<Value>(
            &token,
            &DecodingKey::from_secret(wrong.as_bytes()),
            &Validation::new(Algorithm::HS256)
        )
        .is_err(),
        "another secret must not verify it"
    );
}

#[test]
fn operator_token_with_explicit_subject() {
    let secret = random_secret();
    let out = run(cli(&["token", "--role", "operator", "--sub", "ops-oncall"])
        .env("PLANT_JWT_SECRET", &secret));
    assert_exit(&out, 0);
    let claims = decode_claims(stdout(&out).trim(), &secret);
    assert_eq!(claims["sub"], "ops-oncall");
    assert_eq!(claims["role"], "operator");
    assert!(claims.get("agent_id").is_none());
}

#[test]
fn token_refuses_a_missing_or_short_secret_with_exit_2() {
    let out = run(&mut cli(&["token", "--role", "genesis"]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("PLANT_JWT_SECRET is not set"),
        "{}",
        stderr(&out)
    );

    let out = run(cli(&["token", "--role", "genesis"]).env("PLANT_JWT_SECRET", "too-short"));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("at least 32"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn agent_token_without_agent_id_is_a_usage_error() {
    let out = run(cli(&["token", "--role", "agent"]).env("PLANT_JWT_SECRET", random_secret()));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--agent-id"), "{}", stderr(&out));
}

fn value_of<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in:\n{text}"))
}

#[test]
fn keygen_prints_a_valid_key_pair() {
    let out = run(&mut cli(&["keygen"]));
    assert_exit(&out, 0);
    let text = stdout(&out);
    let secret = value_of(&text, "PLANT_SIGNING_KEY");
    let public = value_of(&text, "PLANT_TRUSTED_KEYS");
    let signer = CheckpointSigner::from_hex(secret).expect("a valid ed25519 secret");
    assert_eq!(signer.public_key_hex(), public);
}

#[cfg(unix)]
#[test]
fn keygen_out_writes_an_owner_only_file_and_never_overwrites_it() {
    use std::os::unix::fs::PermissionsExt;

    let dir = scratch_dir();
    let path = dir.join("signing.key");
    let path_str = path.to_str().unwrap();
    let out = run(&mut cli(&["keygen", "--out", path_str]));
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        !text.contains("PLANT_SIGNING_KEY="),
        "the secret stays in the file: {text}"
    );
    let secret = std::fs::read_to_string(&path).unwrap();
    let signer = CheckpointSigner::from_hex(secret.trim()).expect("a valid key in the file");
    assert_eq!(
        signer.public_key_hex(),
        value_of(&text, "PLANT_TRUSTED_KEYS")
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let again = run(&mut cli(&["keygen", "--out", path_str]));
    assert_exit(&again, 5);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        secret,
        "key untouched"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn database_commands_without_database_url_exit_2_and_say_so() {
    for sub in ["migrate", "seed", "verify", "embed"] {
        let out = run(&mut cli(&[sub]));
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains("DATABASE_URL is not set"), "{sub}: {err}");
        assert_eq!(err.lines().count(), 1, "{sub}: one line: {err}");
    }
    let key = CheckpointSigner::generate().unwrap().secret_hex();
    let out = run(cli(&["checkpoint"]).env("PLANT_SIGNING_KEY", key));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("DATABASE_URL is not set"));
}

#[test]
fn an_unreachable_database_exits_3_without_showing_the_password() {
    let out = run(&mut cli(&[
        "verify",
        "--database-url",
        "postgresql+asyncpg://plant:hunter2-secret@127.0.0.1:1/plant",
    ]));
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_malformed_database_url_is_a_usage_error() {
    let out = run(&mut cli(&[
        "migrate",
        "--database-url",
        "mysql://u:pw-secret@h/d",
    ]));
    assert_exit(&out, 2);
    assert!(!stderr(&out).contains("pw-secret"), "{}", stderr(&out));
}

#[test]
fn checkpoint_without_a_key_is_a_usage_error() {
    let out = run(&mut cli(&[
        "checkpoint",
        "--database-url",
        "postgres://u@127.0.0.1:1/d",
    ]));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no signing key"), "{}", stderr(&out));

    let out = run(
        cli(&["checkpoint", "--database-url", "postgres://u@127.0.0.1:1/d"])
            .env("PLANT_SIGNING_KEY", "not-hex"),
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("signing key"), "{}", stderr(&out));
}

#[test]
fn a_model_directory_that_does_not_load_is_refused_not_replaced_by_hashing() {
    let out = run(&mut cli(&[
        "embed",
        "--database-url",
        "postgres://u@127.0.0.1:1/d",
        "--embed-model-dir",
        "/nonexistent/plant-model",
    ]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("cannot load the embedding model from /nonexistent/plant-model"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_malformed_seed_file_is_a_usage_error_before_any_connection() {
    let dir = scratch_dir();
    let file = dir.join("seed.json");
    std::fs::write(&file, "{}").unwrap();
    let out = run(&mut cli(&[
        "seed",
        "--database-url",
        "postgres://u@127.0.0.1:1/d",
        "--file",
        file.to_str().unwrap(),
    ]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("the seed file is not valid"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn keygen_prints_the_log_verifier_key_for_the_origin() {
    let out = run(cli(&["keygen"]).env("PLANT_LOG_ORIGIN", "plant.example.com/audit"));
    assert_exit(&out, 0);
    let text = stdout(&out);
    let vkey = value_of(&text, "PLANT_LOG_VKEY");
    let verifier = NoteVerifier::parse(vkey).expect("a valid vkey");
    assert_eq!(verifier.name(), "plant.example.com/audit");
    assert_eq!(
        verifier.public_key_hex(),
        value_of(&text, "PLANT_TRUSTED_KEYS")
    );
    let log = NoteSigner::from_secret_hex(
        "plant.example.com/audit",
        SigType::Ed25519,
        value_of(&text, "PLANT_SIGNING_KEY"),
    )
    .unwrap();
    assert_eq!(log.verifier(), verifier);

    let out = run(&mut cli(&[
        "keygen",
        "--witness-name",
        "witness.example/w1",
    ]));
    assert_exit(&out, 0);
    let witness = NoteVerifier::parse(value_of(&stdout(&out), "PLANT_WITNESS_VKEY")).unwrap();
    assert_eq!(witness.sig_type(), SigType::Cosignature);
}

/// A log of `n` leaves (`fork` changes leaf 9) and its checkpoints.
fn log_tree(n: u64, fork: bool) -> MerkleTree {
    let mut tree = MerkleTree::new();
    for i in 0..n {
        let mut data = [0u8; 32];
        data[..8].copy_from_slice(&i.to_be_bytes());
        if fork && i == 9 {
            data[31] = 1;
        }
        tree.push_leaf_data(&data);
    }
    tree
}

#[test]
fn witness_cosigns_what_extends_its_state_and_refuses_a_fork() {
    let origin = "plant.example.com/audit";
    let log = NoteSigner::new(origin, SigType::Ed25519, &[31; 32]).unwrap();
    let checkpoint = |tree: &MerkleTree, size: u64| {
        TreeHead {
            origin: origin.into(),
            size,
            root: tree.root_at(size).unwrap(),
        }
        .sign(&log)
    };
    let dir = scratch_dir();
    let key = dir.join("witness.key");
    std::fs::write(&key, format!("{}\n", "2a".repeat(32))).unwrap();
    let state = dir.join("state.note");
    let honest = log_tree(50, false);
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let vkey = log.verifier().to_string();
    let witness = |cp: &str, proof: Option<&str>| {
        let mut args = vec![
            "witness",
            cp,
            "--log-key",
            &vkey,
            "--name",
            "witness.example/w1",
            "--key-file",
            key.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ];
        if let Some(p) = proof {
            args.extend_from_slice(&["--proof", p]);
        }
        run(&mut cli(&args))
    };
    let cosigner = NoteSigner::new("witness.example/w1", SigType::Cosignature, &[0x2a; 32])
        .unwrap()
        .verifier();

    // First contact: accepted, cosigned, remembered.
    let first = write("first.note", &checkpoint(&honest, 20));
    let out = witness(&first, None);
    assert_exit(&out, 0);
    let accepted = stdout(&out);
    let cosigned = open_checkpoint(&accepted, &log.verifier()).unwrap();
    assert!(cosigned.note.verify(&cosigner).is_ok());
    assert_eq!(std::fs::read_to_string(&state).unwrap(), accepted);

    // A fork that rewrote seq 10: the proof from the forked log does not link the roots.
    let forked = log_tree(50, true);
    let fork_cp = write("fork.note", &checkpoint(&forked, 40));
    let proof = |tree: &MerkleTree, from: u64, to: u64| {
        serde_json::json!({
            "from": from,
            "to": to,
            "from_root": tree.root_at(from).unwrap(),
            "to_root": tree.root_at(to).unwrap(),
            "consistency_path": tree.consistency_proof(from, to).unwrap(),
        })
        .to_string()
    };
    let fork_proof = write("fork-proof.json", &proof(&forked, 20, 40));
    let out = witness(&fork_cp, Some(&fork_proof));
    assert_exit(&out, 1);
    assert!(stdout(&out).starts_with("refused:"), "{}", stdout(&out));
    assert!(stdout(&out).contains("does not extend"), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        accepted,
        "the state still holds the accepted checkpoint"
    );

    // The honest extension is cosigned; going back afterwards is refused.
    let next = write("next.note", &checkpoint(&honest, 40));
    let next_proof = write("next-proof.json", &proof(&honest, 20, 40));
    assert_exit(&witness(&next, Some(&next_proof)), 0);
    let out = witness(&first, None);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("went back"), "{}", stdout(&out));
    // A proof for other sizes is a usage error that names them.
    let out = witness(&next, Some(&fork_proof));
    assert_exit(&out, 2);
    std::fs::remove_dir_all(dir).ok();
}
