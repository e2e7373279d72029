//! `report.html`: the Markdown sections as HTML and the figures inlined as SVG.

use std::fmt::Write as _;
use std::path::Path;

use super::{jobs_markdown, overhead};
use crate::figures::StageFigure;
use crate::run::RunData;
use crate::table::{self, esc};
use crate::{ReportError, Result};

/// Markdown rendered to HTML (CommonMark with tables), for `report.html`: the report's text
/// is written once, in Markdown, and shown as a browser shows HTML.
pub(super) fn markdown_html(md: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::ENABLE_TABLES);
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}

/// The Markdown sections the HTML page shows besides the figures and jobs.
pub(super) struct Html<'a> {
    pub(super) header: &'a str,
    pub(super) rows: &'a [table::StageRow],
    pub(super) group: &'a str,
    pub(super) diagnosis: &'a str,
    pub(super) conditions: &'a str,
}

impl Html<'_> {
    /// `report.html`: every section, the figures inlined as SVG (no file or network loads).
    pub(super) fn page(
        &self,
        run: &RunData,
        figures: &[(String, String, StageFigure<'_>)],
        out: &Path,
    ) -> Result<String> {
        let mut body = String::new();
        for (_, _, fig) in figures {
            let mut svg = String::new();
            {
                use plotters::prelude::*;
                let root =
                    SVGBackend::with_string(&mut svg, crate::figures::SIZE).into_drawing_area();
                crate::figures::draw_into(root, fig)
                    .map_err(|e| ReportError::draw(&out.join("report.html"), e))?;
            }
            let _ = writeln!(body, "<figure>{svg}</figure>");
        }
        let conditions = self
            .conditions
            .trim_start()
            .trim_start_matches("### Measurement conditions");
        Ok(format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>atlasperf report: {t}</title>\n<style>body{{font-family:sans-serif;max-width:1250px;margin:2em auto;}} table{{border-collapse:collapse;}} td,th{{border:1px solid #999;padding:4px 8px;text-align:left;}} figure{{margin:1em 0;}}</style></head><body>\n<h1>atlasperf report: {t}</h1>\n{h}\n<h2>Table I</h2>\n{table}{group}\n<h2>Diagnosis</h2>\n{diag}\n<h2>Measurement conditions</h2>\n{cond}\n<h2>Sampler overhead</h2>\n{ov}\n<h2>Figures</h2>\n{body}\n<h2>Jobs</h2>\n{jobs}\n</body></html>\n",
            t = esc(&run.info.scenario_name),
            h = markdown_html(self.header),
            table = table::html(self.rows),
            group = markdown_html(self.group),
            diag = markdown_html(self.diagnosis),
            cond = markdown_html(conditions),
            ov = markdown_html(&overhead(run)),
            jobs = markdown_html(&jobs_markdown(run)),
        ))
    }
}
