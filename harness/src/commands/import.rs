//! `atlasperf import --format F FILE… [--out RUN]`: another tool's records as a run store.

use anyhow::Context;

use crate::cli::ImportArgs;
use crate::import::{parse, write_store, Request};

pub(crate) fn run(a: &ImportArgs) -> anyhow::Result<()> {
    let req = Request {
        format: a.format,
        files: a.files.clone(),
        stages: a.stages.clone(),
        node_cores: a.node_cores.map(|n| n as usize),
        node_memory: a.node_memory.map(|m| m.as_u64()),
        voxels: a.voxels,
    };
    let parsed = parse(&req)?;
    let (jobs, notes) = (parsed.jobs.len(), parsed.notes.clone());
    let out = super::out_or_default(a.out.as_deref(), &format!("import-{}", a.format.as_str()));
    write_store(&req, parsed, &out)
        .with_context(|| format!("writing the imported run store {}", out.display()))?;
    for n in notes {
        eprintln!("import: {n}");
    }
    eprintln!(
        "import: {jobs} attempt(s) from {} file(s) into {}; `atlasperf report {}` draws them",
        a.files.len(),
        out.display(),
        out.display()
    );
    println!("{}", out.display());
    Ok(())
}
