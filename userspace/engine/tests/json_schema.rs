//! The JSON report's schema is generated from the summary types; a
//! serialized summary of a synthetic session must validate against it, so
//! the schema a script is given describes what it will read.
use fencescope_engine::{Engine, Summary, Symbols, synthetic};

#[test]
fn a_summary_validates_against_the_generated_schema() {
    let mut e = Engine::default().with_symbols(Symbols::default());
    synthetic::compositor_session(2_000, 3, 1_000_000).iter().for_each(|ev| e.feed(ev));
    let summary = e.summary();
    assert!(summary.real_fences() > 0 && !summary.exports.is_empty());
    let schema = serde_json::to_value(schemars::schema_for!(Summary)).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let report = serde_json::to_value(&summary).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // And the schema is not vacuous: a figure of the wrong type fails it.
    let mut wrong = report.clone();
    wrong["events"] = serde_json::json!("many");
    assert!(!validator.is_valid(&wrong));
}

/// The schema checked in beside the README is the one the types generate:
/// regenerate it with `FENCESCOPE_WRITE_SCHEMA=1 cargo test -p fencescope-engine`.
#[test]
fn the_checked_in_schema_is_current() {
    let schema = serde_json::to_string_pretty(&schemars::schema_for!(Summary)).unwrap() + "\n";
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
    if std::env::var_os("FENCESCOPE_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &schema).unwrap();
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == schema,
        "docs/report.schema.json is stale: regenerate it (see this test's doc)"
    );
}

#[test]
fn totals_are_in_the_json_and_add_up() {
    let mut e = Engine::default().with_symbols(Symbols::default());
    synthetic::compositor_session(500, 2, 1_000_000).iter().for_each(|ev| e.feed(ev));
    let s = e.summary();
    assert_eq!(s.totals, s.totals());
    assert!(s.totals.fences > 0);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["totals"]["fences"], serde_json::json!(s.real_fences()));
}
