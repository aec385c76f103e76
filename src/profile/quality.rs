//! The quality side of a side-by-side profile: a faster variant of a model
//! (float16, quantised, pruned) is only worth it if it scores the same
//! rows as well. Each model runs once over the dataset through `evalkit
//! infer` (cached by content), and every later model is compared with the
//! first on the same rows (paired bootstrap intervals of each headline
//! metric's difference, [`crate::compare`]).

use std::path::PathBuf;

use serde::Serialize;

use crate::compare::{self, Join};
use crate::data::{ReadOptions, read_predictions};
use crate::error::{Error, Result};
use crate::full::FullOptions;
use crate::infer::{self, InferOptions};
use crate::metrics::registry;

use super::ProfileOptions;

/// One headline metric of a model against the reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityMetric {
    /// The metric.
    pub metric: String,
    /// The reference model's value.
    pub reference: Option<f64>,
    /// This model's value.
    pub value: Option<f64>,
    /// `value − reference`.
    pub delta: Option<f64>,
    /// The paired interval of the difference.
    pub delta_ci: Option<[f64; 2]>,
}

/// One model against the reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityDelta {
    /// The model's name (the file's stem).
    pub model: String,
    /// Its headline metrics against the reference's.
    pub metrics: Vec<QualityMetric>,
}

/// The quality difference of every later model against the first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quality {
    /// The reference model's name.
    pub reference: String,
    /// The task.
    pub task: String,
    /// Rows compared.
    pub rows: usize,
    /// Bootstrap replicates behind the intervals.
    pub replicates: usize,
    /// Confidence level.
    pub level: f64,
    /// One entry per later model.
    pub models: Vec<QualityDelta>,
}

/// A scratch folder removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs every model over the dataset (labels from `options.dataset.label`,
/// which must be set) and compares each later one with the first; `cache`
/// as `evalkit infer --cache-dir` (`None`: the default cache), `no_cache`
/// skips it.
pub fn quality(
    options: &ProfileOptions,
    cache: Option<PathBuf>,
    no_cache: bool,
    full: &FullOptions,
) -> Result<Quality> {
    if options.dataset.label.is_none() {
        return Err(Error::usage(
            "the quality comparison needs the dataset's labels: give --label COL",
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "evalkit-profile-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "cannot create", e))?;
    let scratch = Scratch(dir);
    let mut preds = Vec::with_capacity(options.models.len());
    for (i, model) in options.models.iter().enumerate() {
        let out = scratch.0.join(format!("model{i}.arrow"));
        let infer_options = InferOptions {
            dataset: options.dataset.clone(),
            device: options.device,
            output_name: options.output_name.clone(),
            cache_dir: cache.clone(),
            no_cache,
            ..InferOptions::new(model, &options.data, &out)
        };
        infer::infer(&infer_options, &|_, _| {})?;
        preds.push(read_predictions(&out, &ReadOptions::default())?);
    }
    let name = |i: usize| {
        options.models[i]
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().to_string())
    };
    let reference = &preds[0];
    let headline = registry::headline(reference.task);
    let mut models = Vec::new();
    for (i, p) in preds.iter().enumerate().skip(1) {
        let (aligned, _) = compare::align(p, reference, None)?;
        let c = compare::compare(p, &aligned, Join::Position, full, &|_, _| {})?;
        let metrics = headline
            .iter()
            .map(|&m| QualityMetric {
                metric: m.to_string(),
                reference: c.baseline.metrics().value(m),
                value: c.candidate.metrics().value(m),
                delta: c.delta.value(m),
                delta_ci: c.delta.get(m).and_then(|d| d.ci),
            })
            .collect();
        models.push(QualityDelta {
            model: name(i),
            metrics,
        });
    }
    Ok(Quality {
        reference: name(0),
        task: reference.task.to_string(),
        rows: reference.rows(),
        replicates: full.intervals.replicates,
        level: full.intervals.level,
        models,
    })
}
