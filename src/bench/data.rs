//! The `data` benchmark group: generating, rendering and tokenising
//! synthetic problems, and the word against character tokenizer figures.

use std::time::Instant;

use super::Bench;
use crate::data::{Format, Level, RenderOptions, SyntheticSource, Tokenizer};

/// Problems generated and tokenised in the timed run.
const PROBLEMS: usize = 100_000;

/// Generates 100,000 documents (a third per format, 1 to 3 steps, 10% noise),
/// trains a word tokenizer on them and encodes them all, and records the time
/// and the sequence lengths at word and character level.
pub fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut documents = Vec::with_capacity(PROBLEMS);
    for (index, format) in Format::ALL.into_iter().enumerate() {
        let share = PROBLEMS / 3 + usize::from(index < PROBLEMS % 3);
        let mut source = SyntheticSource::new(index as u64, Some(format), share);
        source.noise = 0.1;
        documents.extend(source.generate()?);
    }
    let generated = start.elapsed();
    let texts: Vec<String> = documents.iter().map(|document| document.text()).collect();
    let tokenizer = Tokenizer::train(Level::Word, &texts);
    let mut total = 0usize;
    let mut ids = Vec::new();
    for text in &texts {
        ids.clear();
        tokenizer.encode_into(text, &mut ids);
        total += ids.len() + 1;
    }
    let elapsed = start.elapsed();
    bench.record(
        "generate 100k problems (3 formats)",
        generated.as_secs_f64(),
        "s",
        "",
    );
    bench.record(
        "generate + train + tokenise 100k problems",
        elapsed.as_secs_f64(),
        "s",
        "target < 5 s",
    );
    bench.record("tokens produced", total as f64, "tokens", "");
    for level in [Level::Word, Level::Character] {
        let tokenizer = Tokenizer::train(level, &texts);
        for format in Format::ALL {
            let lengths: Vec<usize> = documents
                .iter()
                .zip(&texts)
                .filter(|(document, _)| document.format == Some(format))
                .map(|(_, text)| tokenizer.encode(text).len() + 1)
                .collect();
            let mean = lengths.iter().sum::<usize>() as f64 / lengths.len().max(1) as f64;
            let longest = lengths.iter().copied().max().unwrap_or(0);
            bench.record(
                &format!("{} level {format}: mean tokens", level.name()),
                mean,
                "tokens",
                "",
            );
            bench.record(
                &format!("{} level {format}: max tokens", level.name()),
                longest as f64,
                "tokens",
                "",
            );
        }
        bench.record(
            &format!("{} level vocabulary", level.name()),
            tokenizer.vocab_size() as f64,
            "tokens",
            "incl. 2 specials + 256 bytes",
        );
    }
    answer_lengths(bench)
}

/// The default experiment's answer budgets: RL samples at most 120 new
/// tokens, the evaluation 128.
const ANSWER_BUDGETS: [usize; 2] = [120, 128];

/// The length of the answers a model is asked to write in the default
/// experiment (its sources: 1 to 3 steps, numbers 2 to 50, no noise, no
/// docstring; word tokenizer trained on them): the solution and its EOS,
/// per format, and the share that does not fit each budget (an answer cut
/// there is graded wrong whatever it was going to say).
fn answer_lengths(bench: &mut Bench) -> anyhow::Result<()> {
    let mut documents = Vec::new();
    for format in Format::ALL {
        // The default experiment's seed and its sources' size.
        let mut source = SyntheticSource::new(20_250_410, Some(format), 20_000);
        source.render = RenderOptions { docstring: false };
        documents.extend(source.generate()?);
    }
    let texts: Vec<String> = documents.iter().map(|document| document.text()).collect();
    let tokenizer = Tokenizer::train(Level::Word, &texts);
    for format in Format::ALL {
        let mut lengths: Vec<usize> = documents
            .iter()
            .filter(|document| document.format == Some(format))
            .filter_map(|document| document.solution.as_deref())
            .map(|solution| tokenizer.encode(solution).len() + 1)
            .collect();
        lengths.sort_unstable();
        let count = lengths.len().max(1) as f64;
        let mean = lengths.iter().sum::<usize>() as f64 / count;
        let percentile_95 = lengths
            .get((lengths.len() * 95 / 100).min(lengths.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0);
        let longest = lengths.last().copied().unwrap_or(0);
        bench.record(
            &format!("default answers {format}: mean / 95th percentile / max tokens"),
            mean,
            "tokens",
            &format!("95th percentile {percentile_95}, max {longest} (solution + EOS)"),
        );
        for budget in ANSWER_BUDGETS {
            let over = lengths.iter().filter(|&&length| length > budget).count();
            bench.record(
                &format!("default answers {format}: share over {budget} tokens"),
                100.0 * over as f64 / count,
                "%",
                "cut there, so graded wrong",
            );
        }
    }
    Ok(())
}
