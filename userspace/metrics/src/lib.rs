//! fencescope's figures for Prometheus: the engine's summary and
//! distributions become metric families ([`figures()`]), capped in label
//! cardinality, encoded as OpenMetrics text by prometheus-client
//! ([`exposition`]) and served read-only on `/metrics` ([`http`]).
#![deny(missing_docs)]
pub mod exposition;
pub mod figures;
pub mod http;

pub use exposition::encode;
pub use figures::{Figures, figures};
