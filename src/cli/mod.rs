//! The `evalkit` command line: parse → run → exit code (docs/spec.md §5),
//! in the library so that the `evalkit` binary and the Python package's
//! `evalkit` command are one build of the same code.
//!
//! Exit codes: 0 success, 1 a gate failed, 2 a usage or input error. Errors
//! are one line on stderr. A panic (a bug) is reported the same way: one
//! line with the message and where it happened, and the backtrace written
//! to a file in the temporary folder whose path that line gives — never
//! thousands of backtrace lines from every worker thread on stderr, whatever
//! `RUST_BACKTRACE` says.

#![allow(missing_docs)]

mod args;
mod output;
mod progress;

use std::ffi::OsString;
use std::io::Write;

use args::{Cli, Command, SampleSize};
use clap::Parser;
use evalkit::data::read_predictions;
use evalkit::fast::FastOptions;

/// The process's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCode(u8);

impl ExitCode {
    /// 0: success (every gate passed).
    pub const SUCCESS: ExitCode = ExitCode(0);

    /// The status `code`.
    pub fn from(code: u8) -> ExitCode {
        ExitCode(code)
    }

    /// The status as a number.
    pub fn code(self) -> u8 {
        self.0
    }
}

/// The last panic seen by the hook: "message at file:line", and the
/// details (thread, backtrace) for the report file.
static LAST_PANIC: std::sync::Mutex<Option<(String, String)>> = std::sync::Mutex::new(None);

/// Runs the command line `args` (the program's name first, as
/// `std::env::args_os` gives it) and returns the exit status.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // Panics on corrupt input inside arrow or polars are caught and become
    // one-line errors; a panic that reaches `main` is a bug. Either way
    // nothing is printed here: the hook keeps the details.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let at = info
            .location()
            .map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
        let details = format!(
            "thread '{}' panicked{at}:\n{msg}\n\nbacktrace:\n{}",
            std::thread::current().name().unwrap_or("<unnamed>"),
            std::backtrace::Backtrace::force_capture()
        );
        if let Ok(mut slot) = LAST_PANIC.lock() {
            *slot = Some((format!("{msg}{at}"), details));
        }
    }));
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // The subcommand the user typed, for the hint.
            let sub = args
                .get(1)
                .map(|a| a.to_string_lossy().to_string())
                .filter(|a| {
                    <Cli as clap::CommandFactory>::command()
                        .get_subcommands()
                        .any(|c| c.get_name() == a)
                });
            eprintln!("{}", usage_error(&e.render().to_string(), sub.as_deref()));
            return ExitCode::from(2);
        }
    };
    progress::QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    output::set_color(
        cli.color
            .enabled(std::io::IsTerminal::is_terminal(&std::io::stdout())),
    );
    let error_colour = cli
        .color
        .enabled(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if cli.version {
        print!("{}", version());
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let _ = cmd.write_help(&mut std::io::stderr());
        return ExitCode::from(2);
    };
    match std::panic::catch_unwind(|| run(command)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            let label = if error_colour {
                "\x1b[1;31merror\x1b[0m"
            } else {
                "error"
            };
            eprintln!("evalkit: {label}: {e}");
            ExitCode::from(2)
        }
        Err(payload) => {
            let seen = LAST_PANIC.lock().ok().and_then(|mut s| s.take());
            let (msg, details) = seen.unwrap_or_else(|| {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                (msg.clone(), msg)
            });
            let file =
                std::env::temp_dir().join(format!("evalkit-panic-{}.txt", std::process::id()));
            let args: Vec<String> = args
                .iter()
                .map(|a| a.to_string_lossy().to_string())
                .collect();
            let written = std::fs::write(
                &file,
                format!(
                    "evalkit {} internal error\ncommand: {}\n\n{details}\n",
                    env!("CARGO_PKG_VERSION"),
                    args.join(" ")
                ),
            )
            .is_ok();
            let where_ = if written {
                format!("details in {}", file.display())
            } else {
                "no details file could be written".to_string()
            };
            eprintln!(
                "evalkit: internal error: {msg} (a bug in evalkit; {where_}; please report it)"
            );
            ExitCode::from(2)
        }
    }
}

/// `evalkit --version`: evalkit's version and the ONNX Runtime library it
/// finds (located, not loaded: this stays fast).
fn version() -> String {
    let ort = match evalkit::infer::runtime::find_library() {
        Ok(lib) => format!(
            "ONNX Runtime {} ({})",
            evalkit::infer::runtime::library_version(&lib)
                .unwrap_or_else(|| "of unknown version".to_string()),
            lib.display()
        ),
        Err(e) => format!("ONNX Runtime: none found ({e})"),
    };
    format!("evalkit {}\n{ort}\n", env!("CARGO_PKG_VERSION"))
}

fn run(command: Command) -> evalkit::Result<ExitCode> {
    match command {
        Command::Completions(a) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "evalkit", &mut out);
            emit(&String::from_utf8_lossy(&out))?;
        }
        Command::Infer(a) => {
            let options = evalkit::infer::InferOptions {
                dataset: evalkit::infer::dataset::DatasetSpec {
                    label: a.label.clone(),
                    features: a.features.clone(),
                    keep: a.keep.clone(),
                    filter: a.filter.clone(),
                    fill_null: a.fill_null,
                },
                batch_size: a.batch_size,
                device: a.device,
                threads: a.threads,
                output_name: a.output_name.clone(),
                score_kind: a.score_kind.parse()?,
                task: a.task.as_deref().map(str::parse).transpose()?,
                classes: a.classes.clone(),
                cache_dir: a.cache_dir.clone(),
                no_cache: a.no_cache,
                ..evalkit::infer::InferOptions::new(&a.model, &a.data, &a.output)
            };
            let bar = progress::Bar::rows("inference");
            let report = evalkit::infer::infer(&options, &|done, total| bar.update(done, total))?;
            bar.finish();
            warn(&report.notes);
            if a.json {
                emit_json(&evalkit::json::infer(&options, &report))?;
            } else {
                emit(&output::infer(&options, &report))?;
            }
        }
        Command::Fast(a) => {
            let read = a.columns.read_options()?;
            let inputs = evalkit::state::inputs::expand(&a.preds)?;
            if !(0.0..=1.0).contains(&a.threshold) {
                return Err(evalkit::Error::Usage(format!(
                    "--threshold {} is not a probability in [0, 1]",
                    a.threshold
                )));
            }
            let options = FastOptions {
                sample: match a.sample {
                    SampleSize::All => None,
                    SampleSize::Rows(n) => Some(n),
                },
                seed: a.seed,
                threshold: a.threshold,
                ..FastOptions::default()
            };
            let (header, result) =
                if inputs.len() == 1 && !evalkit::state::file::is_state_file(&inputs[0]) {
                    let preds = read_predictions(&inputs[0], &read)?;
                    (preds.header(), evalkit::fast::fast(&preds, &options))
                } else {
                    let (mut header, result) = evalkit::fast::fast_inputs(
                        &inputs,
                        &read,
                        &options,
                        evalkit::data::chunk_rows(),
                    )?;
                    if a.preds.len() == 1 && inputs != a.preds {
                        // The folder or glob as given, not its first file.
                        header.path = a.preds[0].clone();
                    }
                    (header, result)
                };
            warn(&result.metrics.warnings());
            if a.json {
                emit_json(&evalkit::json::fast(&header, &options, &result))?;
            } else {
                emit(&output::fast(&header, &options, &result))?;
            }
        }
        Command::Full(a) => {
            let slicings = a.slicings();
            let mut read = a.columns.read_options()?;
            let inputs = evalkit::state::inputs::expand(&a.preds)?;
            // Without a bootstrap, one file is folded chunk by chunk like
            // shards (the same numbers, bit for bit, in bounded memory); the
            // bootstrap of a file draws per row and reads it whole.
            let merged = inputs.len() > 1 || evalkit::state::file::is_state_file(&inputs[0]);
            if merged && a.tier.cluster.is_some() {
                return Err(no_rows_for_clusters());
            }
            let cost_columns = a.decide.cost_columns();
            if merged && !cost_columns.is_empty() {
                return Err(evalkit::Error::Usage(
                    "--cost with a cost column needs the rows of one prediction file (a state or merged files keep no columns)".to_string(),
                ));
            }
            // Slices are tested against the rest of the rows, which needs the
            // rows: a single file with slices is read whole.
            // A ranking is read whole (its queries' items together).
            let ranking = !merged && evalkit::data::is_ranking(&inputs[0], &read);
            if merged
                || (!ranking
                    && a.tier.options()?.intervals.replicates == 0
                    && a.tier.cluster.is_none()
                    && slicings.is_empty()
                    && cost_columns.is_empty())
            {
                match full_from_state(&a, &inputs, &read) {
                    // A ranking has no state: one file's rows are read below.
                    Err(e)
                        if !merged
                            && e.to_string()
                                .ends_with(evalkit::state::inputs::RANKING_NEEDS_ROWS) => {}
                    done => return done,
                }
            }
            read.cluster = a.tier.cluster.clone();
            add_slice_columns(&mut read, &slicings)?;
            add_cost_columns(&mut read, cost_columns)?;
            let preds = read_predictions(&inputs[0], &read)?;
            let options = a.tier.options()?;
            evalkit::full::check_options(&options)?;
            check_decisions(&a.decide, &preds.header())?;
            // Slice keys are checked before the overall run's work.
            for by in &slicings {
                evalkit::slices::groups(&preds, by)?;
            }
            let bar = progress::Bar::new("bootstrap");
            let mut result =
                evalkit::full::full_with_progress(&preds, &options, &|done, total| {
                    bar.update(done, total)
                })?;
            bar.finish();
            warn(&evalkit::partial::attach(
                &mut result,
                Some(&preds),
                &a.decide.low_fpr(),
                &options.intervals,
            ));
            warn(&result.warnings());
            let decided = decisions(&a, &result, Some(&preds), &options)?;
            let slices = if slicings.is_empty() {
                Vec::new()
            } else {
                let s = progress::with_bar("slices", |p| {
                    evalkit::slices::full_sliced(&preds, &slicings, &options, a.min_slice, p)
                })?;
                warn(&evalkit::slices::warnings(&s, a.min_slice));
                s
            };
            if a.json {
                let mut doc = evalkit::json::full(&preds.header(), &options, &result);
                evalkit::json::set_clusters(&mut doc, preds.clusters.as_ref());
                if let (
                    true,
                    evalkit::full::FullResult::Ranking(r),
                    evalkit::data::Columns::Ranking { ids, .. },
                ) = (a.per_query, &result, &preds.columns)
                {
                    evalkit::json::add_per_query(&mut doc, &r.per_query, ids);
                }
                decided.add_to(&mut doc);
                if !slicings.is_empty() {
                    evalkit::json::add_slices(
                        &mut doc,
                        preds.weights.is_some(),
                        a.min_slice,
                        &slices,
                    );
                }
                emit_json(&doc)?;
            } else {
                let mut text = output::full(&preds.header(), &options, &result);
                text.push_str(&decided.text(options.intervals.level));
                if !slicings.is_empty() {
                    text.push_str(&output::slices(&options, a.min_slice, &slices));
                }
                emit(&text)?;
            }
        }
        Command::State(a) => {
            let inputs = evalkit::state::inputs::expand(&a.inputs)?;
            evalkit::output_file::check(&a.output)?;
            let file = evalkit::state::inputs::reduce(&inputs, &a.columns.read_options()?)?;
            write_state(&file, &a.output)?;
        }
        Command::Merge(a) => {
            let inputs = evalkit::state::inputs::expand(&a.inputs)?;
            for p in &inputs {
                if !evalkit::state::file::is_state_file(p) {
                    return Err(evalkit::Error::Format {
                        path: p.clone(),
                        message: "is not an evalkit state file; `evalkit state` reduces prediction files to one".to_string(),
                    });
                }
            }
            evalkit::output_file::check(&a.output)?;
            let file =
                evalkit::state::inputs::reduce(&inputs, &evalkit::data::ReadOptions::default())?;
            write_state(&file, &a.output)?;
        }
        Command::Compare(a) => {
            let slicings = args::slicings(&a.slice);
            let mut read = a.columns.read_options()?;
            read.extra = a.id.iter().cloned().collect();
            // The baseline is drawn through the candidate's clusters and
            // sliced by the candidate's keys (its rows are aligned to the
            // candidate's).
            let base_read = read.clone();
            read.cluster = a.tier.cluster.clone();
            add_slice_columns(&mut read, &slicings)?;
            let candidate = read_predictions(&a.candidate, &read)?;
            let baseline = read_predictions(&a.baseline, &base_read)?;
            let options = a.tier.options()?;
            evalkit::full::check_options(&options)?;
            // Slice keys are checked before the work.
            for by in &slicings {
                evalkit::slices::groups(&candidate, by)?;
            }
            let (aligned, notes) = evalkit::compare::align(&candidate, &baseline, a.id.as_deref())?;
            let join = match &a.id {
                Some(c) => evalkit::compare::Join::Id(c.clone()),
                None => evalkit::compare::Join::Position,
            };
            let bar = progress::Bar::new("bootstrap");
            let mut result =
                evalkit::compare::compare(&candidate, &aligned, join, &options, &|done, total| {
                    bar.update(done, total)
                })?;
            bar.finish();
            result.warnings.splice(0..0, notes);
            let low = a.low.low_fpr();
            low.check()?;
            let low_notes = evalkit::partial::attach_paired(
                &mut result,
                &candidate,
                &aligned,
                &low,
                &options.intervals,
            )?;
            result.warnings.extend(low_notes);
            let mut warnings = result.candidate.metrics().warnings();
            warnings.extend(result.warnings.iter().cloned());
            warn(&warnings);
            let slices = if slicings.is_empty() {
                Vec::new()
            } else {
                let s = progress::with_bar("slices", |p| {
                    evalkit::slices::compare_sliced(
                        &candidate,
                        &aligned,
                        &slicings,
                        &options,
                        a.min_slice,
                        p,
                    )
                })?;
                warn(&evalkit::slices::compared_warnings(&s, a.min_slice));
                s
            };
            if a.json {
                let mut doc = evalkit::json::compare(&candidate, &aligned, &options, &result);
                if !slicings.is_empty() {
                    evalkit::json::add_compared_slices(
                        &mut doc,
                        candidate.weights.is_some(),
                        a.min_slice,
                        &slices,
                    );
                }
                emit_json(&doc)?;
            } else {
                let mut text = output::compare(&candidate, &aligned, &options, &result);
                if !slicings.is_empty() {
                    text.push_str(&output::compared_slices(&options, a.min_slice, &slices));
                }
                emit(&text)?;
            }
        }
        Command::Report(a) => {
            // A path that cannot take the report fails before the work.
            evalkit::output_file::check(&a.output)?;
            // Each candidate is one prediction file, or shards (a folder, a
            // glob) or a state file, which the report takes as a state.
            let expanded = a
                .preds
                .iter()
                .map(|p| evalkit::state::inputs::expand(std::slice::from_ref(p)))
                .collect::<evalkit::Result<Vec<_>>>()?;
            if expanded
                .iter()
                .any(|e| e.len() > 1 || evalkit::state::file::is_state_file(&e[0]))
            {
                if a.tier.cluster.is_some() {
                    return Err(no_rows_for_clusters());
                }
                return report_from_states(&a, &expanded);
            }
            let slicings = args::slicings(&a.slice);
            let mut read = a.columns.read_options()?;
            read.extra.extend(a.id.iter().cloned());
            // The baseline needs the id, not the slice keys or clusters (it
            // is drawn through the candidate's).
            let base_read = read.clone();
            read.cluster = a.tier.cluster.clone();
            add_slice_columns(&mut read, &slicings)?;
            add_cost_columns(&mut read, a.decide.cost_columns())?;
            let candidates = a
                .preds
                .iter()
                .map(|p| read_predictions(p, &read))
                .collect::<evalkit::Result<Vec<_>>>()?;
            let baseline = a
                .baseline
                .as_ref()
                .map(|p| read_predictions(p, &base_read))
                .transpose()?;
            for c in &candidates {
                check_decisions(&a.decide, &c.header())?;
            }
            let options = evalkit::report::ReportOptions {
                full: a.tier.options()?,
                names: a.names.clone(),
                id: a.id.clone(),
                slices: slicings,
                min_slice: a.min_slice,
                title: a.title.clone(),
                operating_points: a.decide.operating_point.clone(),
                certified: !a.decide.uncertified,
                cost: a.decide.cost.clone(),
                low_fpr: a.decide.low_fpr(),
            };
            // A suite's gates at operating points need those points.
            let suite = a
                .suite
                .as_ref()
                .map(|p| evalkit::suite::load(p))
                .transpose()?;
            let gate_points = match &suite {
                Some(s) => evalkit::suite::operating_specs(s)?,
                None => Vec::new(),
            };
            let mut options = options;
            for spec in &gate_points {
                if !options.operating_points.contains(spec) {
                    options.operating_points.push(spec.clone());
                }
            }
            let bar = progress::Bar::new("models");
            let report =
                evalkit::report::build(&candidates, baseline.as_ref(), &options, &|d, t| {
                    bar.update(d, t)
                })?;
            bar.finish();
            let mut report = report;
            if let Some(suite) = &suite {
                for (preds, cand) in candidates.iter().zip(&report.candidates) {
                    let fast = evalkit::suite::needs_fast(suite).then(|| {
                        evalkit::fast::fast(
                            preds,
                            &evalkit::suite::fast_options(suite, options.full.threshold),
                        )
                        .metrics
                    });
                    // The points' rates under their gate names, from the
                    // report's points (in `options.operating_points` order).
                    let mut metrics = cand.metrics.clone();
                    if !cand.operating_points.is_empty() {
                        evalkit::suite::add_operating_metrics(
                            &mut metrics,
                            &options.operating_points,
                            &cand.operating_points,
                        );
                    }
                    let verdicts = evalkit::suite::judge(
                        suite,
                        preds.task,
                        Some(preds),
                        fast.as_ref(),
                        Some(&metrics),
                        cand.delta.as_ref(),
                        None,
                    )?;
                    report
                        .gates
                        .extend(verdicts.into_iter().map(|v| v.for_report(&cand.name)));
                }
            }
            let failed = report.gates.iter().filter(|g| !g.passed).count();
            let vs = report
                .baseline
                .as_ref()
                .map_or(String::new(), |b| format!(" vs baseline {}", b.name));
            write_report(&a, &report, &vs)?;
            if !report.gates.is_empty() && !progress::quiet() {
                eprintln!(
                    "evalkit: gates: {}",
                    evalkit::suite::verdicts_line(
                        report.gates.iter().map(|g| (g.verdict, g.passed))
                    )
                );
            }
            if failed > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Power(a) => {
            let metric = evalkit::power::metric(&a.metric)?;
            let options = evalkit::power::PowerOptions {
                metric,
                value: a.value,
                effect: a.effect,
                prevalence: a.prevalence,
                power: a.power,
                alpha: a.alpha,
                paired: a.paired,
            };
            let r = evalkit::power::rows_needed(&options)?;
            if a.json {
                emit_json(&evalkit::json::power(&options, &r))?;
            } else {
                emit(&output::power(&options, &r))?;
            }
        }
        Command::Profile(a) => {
            let (data, models) = a
                .paths
                .split_last()
                .ok_or_else(|| evalkit::Error::Usage("give MODEL.. DATA".to_string()))?;
            let mut options = evalkit::profile::ProfileOptions::new(models.to_vec(), data);
            options.dataset = evalkit::infer::dataset::DatasetSpec {
                label: a.label.clone(),
                features: a.features.clone(),
                keep: a.ignore.clone(),
                filter: a.filter.clone(),
                fill_null: a.fill_null,
            };
            options.batch_sizes = a.batch_sizes.clone();
            if let Some(c) = &a.concurrency {
                options.concurrency = c.clone();
            }
            options.concurrency_batch = a.concurrency_batch;
            options.duration = a.duration;
            options.max_requests = a.max_requests;
            options.warmup = a.warmup;
            options.threads = a.threads;
            options.device = a.device;
            options.output_name = a.output_name.clone();
            options.level = a.ci;
            options.keep_latencies = a.latencies;
            options.check()?;
            if let Some(p) = &a.report {
                evalkit::output_file::check(p)?;
            }
            let quiet = a.json || !std::io::IsTerminal::is_terminal(&std::io::stderr());
            let mut profile = evalkit::profile::profile(&options, &|what| {
                if !quiet && !progress::quiet() {
                    eprintln!("evalkit profile: {what}");
                }
            })?;
            if models.len() > 1 && a.label.is_some() {
                let mut full = evalkit::full::FullOptions::default();
                full.intervals.replicates = a.bootstrap;
                full.intervals.level = a.ci;
                profile.quality = Some(evalkit::profile::quality::quality(
                    &options,
                    a.cache_dir.clone(),
                    a.no_cache,
                    &full,
                )?);
            }
            if let Some(p) = &a.report {
                evalkit::report::write(p, &evalkit::report::serving::page(&profile, None))?;
            }
            if a.json {
                emit_json(&evalkit::json::profile(&profile))?;
            } else {
                emit(&output::profile(&profile))?;
            }
        }
        Command::Run(a) => {
            let suite = evalkit::suite::load(&a.suite)?;
            let (result, notes) =
                evalkit::suite::run(&suite, a.cache_dir.as_deref(), a.report.as_deref())?;
            if !progress::quiet() {
                for n in &notes {
                    eprintln!("evalkit: {n}");
                }
            }
            warn(&result.warnings);
            if a.json {
                emit_json(
                    &serde_json::to_value(&result)
                        .map_err(|e| evalkit::Error::Usage(format!("cannot write JSON: {e}")))?,
                )?;
            } else {
                emit(&output::suite(&result))?;
            }
            if !result.passed {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the report's HTML to `-o`, then its JSON model (`--json`) or one
/// line saying what was written (`what` ends it).
fn write_report(
    a: &args::ReportArgs,
    report: &evalkit::report::Report,
    what: &str,
) -> evalkit::Result<()> {
    let html = evalkit::report::html::render(report);
    evalkit::report::write(&a.output, &html)?;
    if a.json {
        emit_json(
            &serde_json::to_value(report)
                .map_err(|e| evalkit::Error::Usage(format!("cannot write JSON: {e}")))?,
        )
    } else {
        let n = report.candidates.len();
        emit(&format!(
            "wrote {} ({} bytes): {n} candidate{}{what}\n",
            a.output.display(),
            html.len(),
            if n == 1 { "" } else { "s" },
        ))
    }
}

/// `evalkit report` of candidates given as shards or state files: each
/// candidate's inputs merged into one state, the report finished from the
/// states.
fn report_from_states(
    a: &args::ReportArgs,
    expanded: &[Vec<std::path::PathBuf>],
) -> evalkit::Result<ExitCode> {
    let refuse = |what: &str| {
        Err(evalkit::Error::Usage(format!(
            "{what} needs prediction files (their rows); a state or several merged files carry none"
        )))
    };
    if a.baseline.is_some() {
        return refuse("--baseline");
    }
    if a.suite.is_some() {
        return refuse("--suite");
    }
    if !a.decide.cost_columns().is_empty() {
        return refuse("--cost with a cost column");
    }
    let read = a.columns.read_options()?;
    let mut states = Vec::new();
    for (arg, inputs) in a.preds.iter().zip(expanded) {
        let mut file = evalkit::state::inputs::reduce(inputs, &read)?;
        // The folder or glob as given, not its first file.
        file.header.path = arg.clone();
        check_decisions(&a.decide, &file.header)?;
        states.push(file);
    }
    let options = evalkit::report::ReportOptions {
        full: a.tier.options()?,
        names: a.names.clone(),
        id: a.id.clone(),
        slices: args::slicings(&a.slice),
        min_slice: a.min_slice,
        title: a.title.clone(),
        operating_points: a.decide.operating_point.clone(),
        certified: !a.decide.uncertified,
        cost: a.decide.cost.clone(),
        low_fpr: a.decide.low_fpr(),
    };
    let bar = progress::Bar::new("models");
    let report = evalkit::report::build_from_states(&states, &options, &|d, t| bar.update(d, t))?;
    bar.finish();
    write_report(a, &report, " from states")?;
    Ok(ExitCode::SUCCESS)
}

/// `--cluster` with merged inputs or a state file.
fn no_rows_for_clusters() -> evalkit::Error {
    evalkit::Error::Usage(
        "--cluster needs the rows of one prediction file: a state or several merged files keep no per-row clusters".to_string(),
    )
}

/// `evalkit full` over several inputs or state files: merged states, point
/// metrics and DeLong's interval.
fn full_from_state(
    a: &args::FullArgs,
    inputs: &[std::path::PathBuf],
    read: &evalkit::data::ReadOptions,
) -> evalkit::Result<ExitCode> {
    let slicings = a.slicings();
    let options = a.tier.options()?;
    evalkit::full::check_options(&options)?;
    // With slices, one read of each input gives the overall state and
    // every slice's.
    let (mut file, slice_states) = if slicings.is_empty() {
        (evalkit::state::inputs::reduce(inputs, read)?, Vec::new())
    } else {
        let mut read = read.clone();
        add_slice_columns(&mut read, &slicings)?;
        evalkit::slices::sliced_states(inputs, &read, &slicings)?
    };
    if a.preds.len() == 1 && inputs != a.preds {
        // The folder or glob as given, not its first file.
        file.header.path = a.preds[0].clone();
    }
    check_decisions(&a.decide, &file.header)?;
    let bar = progress::Bar::new("bootstrap");
    let mut result =
        evalkit::full::full_state(&file, &options, &|done, total| bar.update(done, total))?;
    bar.finish();
    warn(&evalkit::partial::attach(
        &mut result,
        None,
        &a.decide.low_fpr(),
        &options.intervals,
    ));
    warn(&result.warnings());
    let decided = decisions(a, &result, None, &options)?;
    let slices = if slicings.is_empty() {
        Vec::new()
    } else {
        let bar = progress::Bar::new("slices");
        let s = evalkit::slices::full_sliced_states(
            &slice_states,
            &options,
            a.min_slice,
            &|done, total| bar.update(done, total),
        )?;
        bar.finish();
        warn(&evalkit::slices::warnings(&s, a.min_slice));
        s
    };
    if a.json {
        let mut doc = evalkit::json::full(&file.header, &options, &result);
        decided.add_to(&mut doc);
        if !slicings.is_empty() {
            evalkit::json::add_slices(&mut doc, file.header.weighted, a.min_slice, &slices);
        }
        emit_json(&doc)?;
    } else {
        let mut text = output::full(&file.header, &options, &result);
        text.push_str(&decided.text(options.intervals.level));
        if !slicings.is_empty() {
            text.push_str(&output::slices(&options, a.min_slice, &slices));
        }
        emit(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `full` decides beside the metrics (binary): operating points,
/// and with `--cost` the cost analysis and the decision curve.
struct Decisions {
    points: Vec<evalkit::operating::OperatingPoint>,
    cost: Option<(evalkit::costs::CostResult, evalkit::costs::DecisionCurve)>,
}

impl Decisions {
    fn add_to(&self, doc: &mut serde_json::Value) {
        evalkit::json::add_operating_points(doc, &self.points);
        if let Some((cost, curve)) = &self.cost {
            evalkit::json::add_costs(doc, cost, curve);
        }
    }

    fn text(&self, level: f64) -> String {
        let mut out = output::operating_points(&self.points, level);
        if let Some((cost, _)) = &self.cost {
            out.push_str(&output::costs(cost));
        }
        out
    }
}

/// Refuses operating points and costs for a task other than binary,
/// before any work.
fn check_decisions(d: &args::DecisionArgs, header: &evalkit::data::Header) -> evalkit::Result<()> {
    evalkit::operating::check_task(&d.operating_point, header)?;
    let low = d.low_fpr();
    low.check()?;
    if !low.is_empty() && header.task != evalkit::data::Task::Binary {
        return Err(evalkit::Error::Usage(format!(
            "--max-fpr and --tpr-at-fpr read a binary classifier's ROC curve, but {} is a {} task",
            header.path.display(),
            header.task
        )));
    }
    if d.cost.is_some() && header.task != evalkit::data::Task::Binary {
        return Err(evalkit::Error::Usage(format!(
            "--cost weighs the errors of a binary classifier, but {} is a {} task",
            header.path.display(),
            header.task
        )));
    }
    Ok(())
}

/// The operating points and costs of a full-tier result (`preds`: its
/// rows, when read whole); their notes go to stderr, each once.
fn decisions(
    a: &args::FullArgs,
    result: &evalkit::full::FullResult,
    preds: Option<&evalkit::data::Predictions>,
    options: &evalkit::full::FullOptions,
) -> evalkit::Result<Decisions> {
    let points = evalkit::operating::for_result(
        result,
        preds,
        &a.decide.operating_point,
        !a.decide.uncertified,
        &options.intervals,
    );
    let mut notes: Vec<String> = Vec::new();
    for n in points.iter().flat_map(|p| &p.notes) {
        if !notes.contains(n) {
            notes.push(n.clone());
        }
    }
    warn(&notes);
    let cost = match (&a.decide.cost, result) {
        (Some(c), evalkit::full::FullResult::Binary(b)) => Some((
            evalkit::costs::analyse(c, &b.curve, preds, options.threshold)?,
            evalkit::costs::decision_curve(&b.curve),
        )),
        _ => None,
    };
    Ok(Decisions { points, cost })
}

/// Writes a state file and says what it holds on standard error.
fn write_state(
    file: &evalkit::state::file::StateFile,
    path: &std::path::Path,
) -> evalkit::Result<()> {
    let bytes = file.to_bytes()?;
    evalkit::output_file::write(path, &bytes)?;
    let h = &file.header;
    emit(&format!(
        "wrote {} ({} bytes): {} state of {} rows from {} file{}, content blake3 {}\n",
        path.display(),
        bytes.len(),
        h.task,
        h.rows,
        h.sources,
        if h.sources == 1 { "" } else { "s" },
        evalkit::state::file::StateFile::content_hash(&bytes).unwrap_or_default()
    ))
}

/// Adds the slice columns to the columns read, refusing the label, score
/// and weight columns as keys.
/// Reads the `--cost` columns with the rows (passthrough columns only).
fn add_cost_columns(
    read: &mut evalkit::data::ReadOptions,
    columns: Vec<String>,
) -> evalkit::Result<()> {
    for c in columns {
        if c == read.label || read.score.contains(&c) {
            return Err(evalkit::Error::Usage(format!(
                "--cost: '{c}' is the label or score column; costs come from a passthrough column"
            )));
        }
        if !read.extra.contains(&c) {
            read.extra.push(c);
        }
    }
    Ok(())
}

fn add_slice_columns(
    read: &mut evalkit::data::ReadOptions,
    slicings: &[Vec<String>],
) -> evalkit::Result<()> {
    for c in slicings.iter().flatten() {
        let role = if *c == read.label {
            Some("label")
        } else if read.score.contains(c) {
            Some("score")
        } else if read.weight.as_ref() == Some(c) || (read.weight.is_none() && c == "weight") {
            Some("weight")
        } else {
            None
        };
        if let Some(role) = role {
            return Err(evalkit::Error::Usage(format!(
                "--slice {c}: '{c}' is the {role} column; slice by a passthrough column (a group, region, cohort)"
            )));
        }
        if !read.extra.contains(c) {
            read.extra.push(c.clone());
        }
    }
    Ok(())
}

/// Clap's multi-line usage error as evalkit's one line plus one hint line:
/// the message (with the names clap lists under it, such as missing
/// arguments), then clap's tip or a pointer to `--help`.
fn usage_error(rendered: &str, sub: Option<&str>) -> String {
    let mut lines = rendered.lines().map(str::trim_end);
    let first = lines
        .by_ref()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    let mut message = first.trim_start_matches("error: ").to_string();
    let mut tip = None;
    let mut usage = None;
    for line in lines {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("tip: ") {
            tip.get_or_insert_with(|| rest.to_string());
        } else if let Some(rest) = t.strip_prefix("Usage: ") {
            usage.get_or_insert_with(|| rest.to_string());
        } else if line.starts_with(' ') && !t.is_empty() && tip.is_none() && usage.is_none() {
            // An item clap lists under the message (a missing argument).
            message.push(if message.ends_with(':') { ' ' } else { ',' });
            if !message.ends_with(' ') {
                message.push(' ');
            }
            message.push_str(t);
        }
    }
    let hint = match (tip, usage) {
        (Some(tip), _) => tip,
        (None, Some(usage)) => format!("usage: {usage} (more: --help)"),
        (None, None) => match sub {
            Some(sub) => format!("see evalkit {sub} --help"),
            None => "see evalkit --help".to_string(),
        },
    };
    format!("evalkit: error: {message}\n  hint: {hint}")
}

fn warn(warnings: &[String]) {
    if progress::quiet() {
        return;
    }
    let mut seen = std::collections::HashSet::new();
    for w in warnings {
        // The same note from several metric groups (candidate, baseline,
        // differences) is said once.
        if seen.insert(w.as_str()) {
            eprintln!("evalkit: warning: {w}");
        }
    }
}

fn emit_json(value: &serde_json::Value) -> evalkit::Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| evalkit::Error::Usage(format!("cannot write JSON: {e}")))?;
    emit(&(text + "\n"))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> evalkit::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(evalkit::Error::Usage(
            format!("cannot write to standard output: {e}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::usage_error;

    #[test]
    fn clap_errors_become_one_line_and_a_hint() {
        let missing = "error: the following required arguments were not provided:\n  <PREDS>\n\nUsage: evalkit full <PREDS>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_error(missing, Some("full")),
            "evalkit: error: the following required arguments were not provided: <PREDS>\n  hint: usage: evalkit full <PREDS> (more: --help)"
        );
        let tip = "error: unexpected argument '--tresh' found\n\n  tip: a similar argument exists: '--threshold'\n\nUsage: evalkit full <PREDS>\n";
        assert_eq!(
            usage_error(tip, Some("full")),
            "evalkit: error: unexpected argument '--tresh' found\n  hint: a similar argument exists: '--threshold'"
        );
        let bare = "error: invalid value '-1' for '--bootstrap <B>': invalid digit found in string\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_error(bare, Some("full")),
            "evalkit: error: invalid value '-1' for '--bootstrap <B>': invalid digit found in string\n  hint: see evalkit full --help"
        );
    }
}
