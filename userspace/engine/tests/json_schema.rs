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
