//! Malformed lab files against the real kernel: the examples mutated by
//! the same seeded generator as the lab crate's parsing test. Each file is
//! validated, and brought up and down when it is valid; no command panics,
//! every refusal names a position or says what failed, and nothing of any
//! lab is left at the end.

mod common;

#[path = "../../lab/tests/mutate/mod.rs"]
mod mutate;

use common::field;

#[test]
fn mutated_examples_are_refused_or_brought_up_and_down_leaving_nothing() {
    require_root!();
    if common::missing_tool(&["ip", "nft", "busybox"]) {
        return;
    }
    let examples = mutate::examples();
    let mut rng = mutate::Rng(0x0fa1_10ff);
    // The files go to a directory of their own, read by the script (they
    // are too many to pass in its text).
    let dir = tempfile::tempdir().unwrap();
    for n in 0..150 {
        let mut text = examples[n % examples.len()].clone();
        for _ in 0..=rng.below(2) {
            text = mutate::mutate(&text, &mut rng);
        }
        std::fs::write(dir.path().join(format!("f{n:03}.yaml")), text).unwrap();
    }
    let script = format!("FUZZ={}\n", dir.path().display())
        + r#"
valid=0; refused=0; upped=0
for f in "$FUZZ"/*.yaml; do
  set +e
  $NSBOX lab validate "$f" >/dev/null 2>/run/err; code=$?
  set -e
  case $code in
    0) valid=$((valid+1))
       set +e
       $NSBOX lab up "$f" >/dev/null 2>/run/uperr; up=$?
       set -e
       case $up in 0) upped=$((upped+1)) ;; 1) ;; *) echo "BAD up $f exit $up: $(cat /run/uperr)" ;; esac
       $NSBOX lab down --ignore-missing "$f" >/dev/null 2>/run/downerr || echo "BAD down $f: $(cat /run/downerr)"
       ;;
    1) refused=$((refused+1))
       grep -Eq "^$f(:[0-9]+:[0-9]+)?: error: " /run/err || echo "BAD refusal $f: $(cat /run/err)"
       ;;
    *) echo "BAD validate $f exit $code: $(cat /run/err)" ;;
  esac
done
echo "COUNTS valid=$valid refused=$refused up=$upped"
echo "LEFT netns=[$(ip netns list | wc -l)] state=[$(ls /run/nsbox/labs 2>/dev/null | wc -l)]"
echo END
"#;
    let (code, out, err) = common::in_private_run(&script);
    assert!(code == 0 && out.contains("END"), "({code}) {out}\n{err}");
    let bad: Vec<&str> = out.lines().filter(|l| l.starts_with("BAD ")).collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(field(&out, "LEFT"), "netns=[0] state=[0]", "{out}");
    let counts = field(&out, "COUNTS");
    assert!(
        !counts.contains("valid=0 ") && !counts.contains("refused=0 "),
        "both kinds were tried: {counts}"
    );
}
