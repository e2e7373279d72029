pub(crate) fn run(_a: &crate::cli::RunArgs) -> anyhow::Result<u8> {
    Err(crate::cli::UsageError("run: not yet".into()).into())
}
