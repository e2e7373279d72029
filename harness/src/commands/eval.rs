//! `atlasperf eval dice`.

use atlasperf_kernels::eval::dice as compute_dice;
use atlasperf_kernels::volume::read_labels;

use crate::cli::DiceArgs;

pub(crate) fn dice(args: &DiceArgs) -> anyhow::Result<()> {
    let truth = read_labels(&args.truth)?;
    let seg = read_labels(&args.seg)?;
    let report = compute_dice(&truth, &seg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{:>6} {:>7} {:>12} {:>12}",
        "label", "dice", "truth mm³", "seg mm³"
    );
    for l in &report.labels {
        println!(
            "{:>6} {:>7.4} {:>12.1} {:>12.1}",
            l.label, l.dice, l.truth_mm3, l.seg_mm3
        );
    }
    println!(
        "mean Dice over {} labels: {:.4}",
        report.labels.len(),
        report.mean_dice
    );
    Ok(())
}
