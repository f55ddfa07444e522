//! Malformed lab files, generated from the examples by seeded mutations
//! and by proptest: every one is read without a panic, and is either
//! accepted or refused with diagnostics that each have a position and say
//! what is wrong in the lab file's words, never the parser's.

use proptest::prelude::*;
use std::path::Path;

mod mutate;
use mutate::{examples, mutate, Rng};

/// Words of the parser's, not of a lab file: none may reach a user.
const INTERNALS: &[&str] = &[
    "untagged enum",
    "Option<",
    "Spanned",
    "Scalar",
    "mapping start",
    "sequence start",
    "string scalar",
    "budget breached",
    "invalid u32",
    "(os error",
    " at line ",
];

fn judge(text: &str) -> Result<(), String> {
    match nsbox_lab::load::parse(Path::new("f.yaml"), text) {
        Ok(_) => Ok(()),
        Err(d) => {
            if d.errors() == 0 {
                return Err(format!("refused without an error: {d}"));
            }
            for diagnostic in &d.list {
                if diagnostic.line == 0 || diagnostic.column == 0 {
                    return Err(format!("no position: {d}\n--- file:\n{text}"));
                }
                if let Some(word) = INTERNALS.iter().find(|w| diagnostic.message.contains(*w)) {
                    return Err(format!("the parser's words ({word:?}): {d}\n--- file:\n{text}"));
                }
            }
            Ok(())
        }
    }
}

#[test]
fn four_hundred_mutated_examples_are_accepted_or_refused_with_a_position() {
    let examples = examples();
    // NSBOX_FUZZ_SEED and NSBOX_FUZZ_FILES explore further by hand; the
    // suite runs the same 400 files every time.
    let seed = std::env::var("NSBOX_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1ab5);
    let files = std::env::var("NSBOX_FUZZ_FILES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let mut rng = Rng(seed);
    let mut refused = 0;
    let mut failures = Vec::new();
    for n in 0..files {
        let mut text = examples[n % examples.len()].clone();
        for _ in 0..=rng.below(3) {
            text = mutate(&text, &mut rng);
        }
        if nsbox_lab::load::parse(Path::new("f.yaml"), &text).is_err() {
            refused += 1;
        }
        if let Err(e) = judge(&text) {
            failures.push(format!("file {n}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\n{} of {files}",
        failures.join("\n"),
        failures.len()
    );
    assert!(refused > files / 4, "the mutations make mistakes ({refused} refused)");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any text at all: no panic, and a refusal has positions.
    #[test]
    fn any_text_is_read_without_a_panic(text in "\\PC{0,200}") {
        prop_assert!(judge(&text).is_ok(), "{:?}", judge(&text));
    }

    /// A lab with arbitrary words in the places users write words.
    #[test]
    fn arbitrary_words_in_a_lab_are_judged_with_positions(
        name in "\\PC{0,40}",
        node in "\\PC{0,20}",
        route in "\\PC{0,40}",
        rule in "\\PC{0,40}",
        expect in "\\PC{0,40}",
        sysctl in "\\PC{0,20}",
    ) {
        let text = format!(
            "name: {name:?}\nnodes:\n  {node:?}: {{routes: [{route:?}], nat: [{rule:?}], sysctls: {{net.ipv4.ip_forward: {sysctl:?}}}}}\n  b: {{}}\nexpect:\n  {expect:?}: reachable\n"
        );
        prop_assert!(judge(&text).is_ok(), "{:?}", judge(&text));
    }

    /// The parsers of single values: routes, paths, outcomes.
    #[test]
    fn value_parsers_never_panic(text in "\\PC{0,60}") {
        let _ = nsbox_lab::load::parse_route(&text);
        let _ = nsbox_lab::load::parse_path(&text);
        let _ = nsbox_lab::load::parse_outcome(&text);
    }
}
