//! The fuzz targets on stable Rust: every input of the kept corpus
//! (`fuzz/corpus/<target>/`, found by `cargo +nightly fuzz run` and seeded
//! by hand), then a fixed number of byte-level mutations of each, through
//! the same bodies the cargo-fuzz binaries run (`fuzz/targets.rs`). A crash
//! the fuzzer finds is kept by copying its artefact into the corpus; from
//! then on this test holds it fixed. No database: these are parsers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "../fuzz/targets.rs"]
mod targets;

/// Mutations per corpus input; `FUZZ_MUTATIONS` raises it for a longer run.
fn mutations() -> usize {
    std::env::var("FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} is the corpus of {target}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("corpus input");
            (path, bytes)
        })
        .collect();
    inputs.sort();
    inputs
}

/// One of libFuzzer's simpler moves: flip, insert, delete, duplicate a
/// slice, or splice in a byte that parsers care about.
fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    const INTERESTING: &[u8] = b",;\"'\n\r\t\0=+@.%&-_ \xef\xbb\xbf\xff";
    let mut out = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let at = if out.is_empty() {
            0
        } else {
            rng.gen_range(0..=out.len())
        };
        match rng.gen_range(0..5) {
            0 if at < out.len() => out[at] ^= 1 << rng.gen_range(0..8),
            1 => out.insert(at, INTERESTING[rng.gen_range(0..INTERESTING.len())]),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 if at < out.len() => {
                let end = rng.gen_range(at..=out.len().min(at + 32));
                let slice = out[at..end].to_vec();
                out.splice(at..at, slice);
            }
            _ => out.insert(at, rng.gen()),
        }
    }
    out
}

/// Runs a target over its corpus and the mutations, naming the input that
/// made it fail.
fn replay(target: &str, body: fn(&[u8])) {
    let inputs = corpus(target);
    assert!(
        inputs.len() >= 10,
        "the corpus of {target} holds {} inputs",
        inputs.len()
    );
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let mut rng = StdRng::seed_from_u64(0x1ead_b00c);
    for (path, seed) in &inputs {
        let mut cases = vec![seed.clone()];
        cases.extend((0..mutations()).map(|_| mutate(&mut rng, seed)));
        for case in cases {
            if std::panic::catch_unwind(|| body(&case)).is_err() {
                *failure.lock().unwrap() = Some(format!(
                    "{target} fails on {case:?} (from {}); keep it in the corpus once fixed",
                    path.display()
                ));
                break;
            }
        }
    }
    if let Some(message) = failure.into_inner().unwrap() {
        panic!("{message}");
    }
}

#[test]
fn every_fuzz_target_has_a_corpus_and_a_binary() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, _) in targets::TARGETS {
        assert!(fuzz.join("corpus").join(name).is_dir(), "fuzz/corpus/{name}");
        let binary = std::fs::read_to_string(fuzz.join("fuzz_targets").join(format!("{name}.rs")))
            .unwrap_or_else(|e| panic!("fuzz/fuzz_targets/{name}.rs: {e}"));
        assert!(
            binary.contains(&format!("targets::{name}(data)")),
            "{name}.rs runs its target"
        );
    }
}

#[test]
fn the_csv_import_parser_survives_its_corpus() {
    replay("csv_import", targets::csv_import);
}

#[test]
fn phone_parsing_survives_its_corpus() {
    replay("phone", targets::phone);
}

#[test]
fn email_parsing_survives_its_corpus() {
    replay("email", targets::email);
}

#[test]
fn the_list_query_parser_survives_its_corpus() {
    replay("list_query", targets::list_query);
}
