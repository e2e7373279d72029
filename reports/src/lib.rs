//! Reports of atlasperf: reads a run store and renders figures (plotters, PNG and SVG) and
//! tables (Markdown, CSV, HTML). Depends on the run-store schema only, never on harness
//! internals. Also renders slice previews of volumes handed to it as plain arrays.

pub mod accounting;
pub mod compare;
pub mod conditions;
pub mod diagnosis;
pub mod error;
pub mod figures;
pub mod folds;
pub mod group;
pub mod preview;
pub mod render;
pub mod run;
pub mod sweep;
pub mod table;

pub use error::{ReportError, Result};
