//! ONNX Runtime through `ort` with `load-dynamic`: finding the library,
//! the one environment of the process, sessions on a device, and what a
//! model expects and gives.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use half::f16;
use ort::environment::Environment;
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session};
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::error::{Error, Result};

/// The element type of a model's feature input or score output: evalkit
/// feeds and reads `float32` and `float16` tensors (a float16 output is
/// widened to `f32` exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// `tensor(float)`.
    F32,
    /// `tensor(float16)`.
    F16,
}

impl Precision {
    fn of(ty: &ValueType) -> Option<Precision> {
        match ty {
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                ..
            } => Some(Precision::F32),
            ValueType::Tensor {
                ty: TensorElementType::Float16,
                ..
            } => Some(Precision::F16),
            _ => None,
        }
    }

    /// ONNX's name for the type, as in the prediction file's metadata.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "float32",
            Precision::F16 => "float16",
        }
    }
}

/// Feature rows, row-major, in the element type a model takes: what
/// [`crate::infer::Dataset::batch`] writes and [`Model::run`] feeds.
#[derive(Debug, Clone, PartialEq)]
pub enum Features {
    /// For a `float32` input.
    F32(Vec<f32>),
    /// For a `float16` input.
    F16(Vec<f16>),
}

/// A view of some of [`Features`]' rows.
#[derive(Debug, Clone, Copy)]
pub enum FeatureRows<'a> {
    /// For a `float32` input.
    F32(&'a [f32]),
    /// For a `float16` input.
    F16(&'a [f16]),
}

impl Features {
    /// No rows yet, for a model taking `precision`.
    pub fn new(precision: Precision) -> Features {
        match precision {
            Precision::F32 => Features::F32(Vec::new()),
            Precision::F16 => Features::F16(Vec::new()),
        }
    }

    /// The number of values (rows × features).
    pub fn len(&self) -> usize {
        match self {
            Features::F32(v) => v.len(),
            Features::F16(v) => v.len(),
        }
    }

    /// The element type.
    pub fn precision(&self) -> Precision {
        match self {
            Features::F32(_) => Precision::F32,
            Features::F16(_) => Precision::F16,
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values `range` (whole rows: a multiple of the feature count).
    pub fn slice(&self, range: std::ops::Range<usize>) -> FeatureRows<'_> {
        match self {
            Features::F32(v) => FeatureRows::F32(&v[range]),
            Features::F16(v) => FeatureRows::F16(&v[range]),
        }
    }

    /// Every value.
    pub fn all(&self) -> FeatureRows<'_> {
        self.slice(0..self.len())
    }

    /// Appends a copy of values `..n`.
    pub fn repeat_prefix(&mut self, n: usize) {
        match self {
            Features::F32(v) => v.extend_from_within(..n),
            Features::F16(v) => v.extend_from_within(..n),
        }
    }
}

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The CPU execution provider.
    Cpu,
    /// The CUDA execution provider on this GPU.
    Cuda(i32),
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Device, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<i32>) {
                Some(Ok(id)) if id >= 0 => Ok(Device::Cuda(id)),
                _ => Err(format!(
                    "unknown device '{s}': expected cpu, cuda or cuda:ID"
                )),
            },
        }
    }
}

impl Device {
    /// The name used on the command line and in metadata.
    pub fn name(self) -> String {
        match self {
            Device::Cpu => "cpu".to_string(),
            Device::Cuda(id) => format!("cuda:{id}"),
        }
    }

    /// The ONNX Runtime execution provider.
    pub fn provider(self) -> &'static str {
        match self {
            Device::Cpu => "CPUExecutionProvider",
            Device::Cuda(_) => "CUDAExecutionProvider",
        }
    }
}

#[cfg(target_os = "macos")]
fn is_library(name: &str) -> bool {
    name.starts_with("libonnxruntime") && name.ends_with(".dylib") && !name.contains("providers")
}

#[cfg(target_os = "windows")]
fn is_library(name: &str) -> bool {
    name == "onnxruntime.dll"
}

#[cfg(not(any(target_os = "macos", target_os = "windows")))]
fn is_library(name: &str) -> bool {
    name.starts_with("libonnxruntime.so")
}

/// The ONNX Runtime library inside an `onnxruntime` package folder.
fn in_package(package: &Path) -> Option<PathBuf> {
    let capi = package.join("capi");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&capi)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_library)
        })
        .collect();
    // The longest name is the most specific (libonnxruntime.so.1.32.0).
    found.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    found.into_iter().next()
}

/// `onnxruntime` package folders in a virtual environment.
fn packages_in_venv(venv: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(venv.join(lib)) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            if e.file_name().to_string_lossy().starts_with("python") {
                out.push(e.path().join("site-packages").join("onnxruntime"));
            }
        }
    }
    out.push(venv.join("Lib").join("site-packages").join("onnxruntime"));
    out
}

/// The environment (`sys.prefix`) of the Python interpreter evalkit runs in,
/// when it runs as the Python package (see [`set_python_prefix`]).
static PYTHON_PREFIX: OnceLock<PathBuf> = OnceLock::new();

/// Tells [`find_library`] that evalkit runs inside a Python interpreter whose
/// environment is `prefix` (its `sys.prefix`): the `onnxruntime` package
/// installed beside evalkit there (`pip install evalkit[infer]`) is found
/// first, whether or not that environment is activated. The Python package
/// calls it when it loads; the first call wins.
pub fn set_python_prefix(prefix: PathBuf) {
    let _ = PYTHON_PREFIX.set(prefix);
}

/// Where evalkit looks for ONNX Runtime, in order: `ORT_DYLIB_PATH`; the
/// `onnxruntime` (or `onnxruntime-gpu`) package of the Python environment
/// evalkit runs in (the Python package and its `evalkit` command), of
/// `$VIRTUAL_ENV`, of `./.venv`, and of the `python3` on the `PATH`; then the
/// system's library path.
pub fn find_library() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::usage(format!(
                "ORT_DYLIB_PATH is set to {}, which is not a file: point it at libonnxruntime, or unset it",
                p.display()
            )))
        };
    }
    let mut venvs: Vec<PathBuf> = PYTHON_PREFIX.get().cloned().into_iter().collect();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        venvs.push(PathBuf::from(v));
    }
    venvs.push(PathBuf::from(".venv"));
    // A development checkout keeps its virtual environment beside Cargo.toml.
    venvs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"));
    for v in &venvs {
        for pkg in packages_in_venv(v) {
            if let Some(lib) = in_package(&pkg) {
                return Ok(lib);
            }
        }
    }
    if let Some(pkg) = python_package()
        && let Some(lib) = in_package(&pkg)
    {
        return Ok(lib);
    }
    Ok(PathBuf::from(if cfg!(target_os = "macos") {
        "libonnxruntime.dylib"
    } else if cfg!(target_os = "windows") {
        "onnxruntime.dll"
    } else {
        "libonnxruntime.so"
    }))
}

/// The `onnxruntime` package folder of the `python3` on the `PATH`.
fn python_package() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, onnxruntime; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// One line for an ONNX Runtime that could not be loaded: where evalkit
/// looked, the loader's own reason (not ort's debug structure) and the
/// install command.
fn load_error(lib: &Path, e: &ort::LoadDynamicError) -> String {
    // The loader's error and its sources, e.g. "dlopen failed: …: invalid
    // ELF header" (ort's own message repeats the path).
    let mut cause = match e {
        ort::LoadDynamicError::Dlopen { error, .. } => {
            let mut parts = vec![error.to_string()];
            let mut inner = std::error::Error::source(error);
            while let Some(i) = inner {
                parts.push(i.to_string());
                inner = i.source();
            }
            parts.join(": ")
        }
        other => other.to_string(),
    };
    cause = cause.replace('\n', " ");
    let install = if PYTHON_PREFIX.get().is_some() {
        "install it with `pip install 'evalkit[infer]'` (or `evalkit[gpu]`) into this Python, or set ORT_DYLIB_PATH to the libonnxruntime file"
    } else {
        "install it with `pip install onnxruntime` (or `make ort`, into ./.venv), or set ORT_DYLIB_PATH to the libonnxruntime file"
    };
    if lib.components().count() == 1 {
        // Nothing found in the places below: the system's library path was the last try.
        let python = if cfg!(target_os = "windows") {
            "python"
        } else {
            "python3"
        };
        format!(
            "ONNX Runtime was not found: evalkit looked at ORT_DYLIB_PATH (unset), the onnxruntime package of {}$VIRTUAL_ENV, ./.venv, {} and the {python} on PATH, then the system library path ({cause}); {install}",
            PYTHON_PREFIX
                .get()
                .map(|p| format!("this Python ({}), ", p.display()))
                .unwrap_or_default(),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(".venv")
                .display()
        )
    } else {
        format!(
            "ONNX Runtime at {} could not be loaded ({cause}); {install}",
            lib.display()
        )
    }
}

/// ONNX Runtime's version from its library's file name
/// (`libonnxruntime.so.1.32.0`, `libonnxruntime.1.32.0.dylib`); `None`
/// when the name does not carry one.
pub fn library_version(lib: &Path) -> Option<String> {
    let name = lib.file_name()?.to_string_lossy().to_string();
    let rest = name.strip_prefix("libonnxruntime.so.").or_else(|| {
        name.strip_prefix("libonnxruntime.")
            .and_then(|r| r.strip_suffix(".dylib"))
    })?;
    (rest.split('.').all(|p| p.parse::<u32>().is_ok())).then(|| rest.to_string())
}

static ENVIRONMENT: OnceLock<std::result::Result<(Environment, PathBuf), String>> = OnceLock::new();

/// The process's ONNX Runtime environment (ONNX Runtime allows one), loaded
/// on first use; and the library it came from.
pub fn environment() -> Result<(&'static Environment, &'static Path)> {
    let r = ENVIRONMENT.get_or_init(|| {
        let lib = find_library().map_err(|e| e.to_string())?;
        let env = ort::init_from(&lib)
            .map_err(|e| load_error(&lib, &e))?
            .with_name("evalkit")
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("ONNX Runtime from {} failed to start: {e}", lib.display()))?;
        Ok((env, lib))
    });
    match r {
        Ok((env, lib)) => Ok((env, lib.as_path())),
        Err(msg) => Err(Error::usage(msg.clone())),
    }
}

/// A tensor output of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputInfo {
    /// Output name.
    pub name: String,
    /// Shape, `-1` for dynamic dimensions.
    pub shape: Vec<i64>,
}

/// A loaded model, ready to run batches.
pub struct Model {
    session: Session,
    /// Runs compute the score output alone (a classifier's label output,
    /// for one, is never needed).
    run_options: RunOptions<HasSelectedOutputs>,
    /// The input's name.
    pub input: String,
    /// The number of features the input takes, when the model fixes it.
    pub features: Option<usize>,
    /// The number of rows the input takes, when the model fixes its batch
    /// dimension (then every batch must have exactly this many rows).
    pub batch: Option<usize>,
    /// The input's shape as the model declares it, `-1` for dynamic
    /// dimensions (for messages).
    pub input_shape: Vec<i64>,
    /// The input's element type: batches are made in it.
    pub input_type: Precision,
    /// The output that becomes the score.
    pub output: OutputInfo,
    /// The score output's element type.
    pub output_type: Precision,
    /// The execution provider.
    pub provider: &'static str,
}

fn describe_io(items: &[ort::value::Outlet]) -> String {
    items
        .iter()
        .map(|o| format!("'{}' ({})", o.name(), o.dtype()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Model {
    /// Loads `path` on `device` with `threads` intra-op threads, and picks
    /// the score output (`output`, else a float32 tensor named like
    /// `probabilities`, else the first float32 tensor, else the same among
    /// float16 tensors).
    pub fn load(
        path: &Path,
        device: Device,
        threads: usize,
        output: Option<&str>,
    ) -> Result<Model> {
        if !path.is_file() {
            return Err(Error::io(
                path,
                "cannot open the model",
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let (env, _) = environment()?;
        let setup = |e: String| Error::usage(format!("cannot set up ONNX Runtime: {e}"));
        let builder = Session::builder(env)
            .map_err(|e| setup(e.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| setup(e.to_string()))?;
        let mut builder = match device {
            Device::Cpu => builder,
            Device::Cuda(id) => {
                let cuda = ort::ep::CUDA::default()
                    .with_device_id(id)
                    .build()
                    .error_on_failure();
                builder.with_execution_providers([cuda]).map_err(|e| {
                    Error::usage(format!(
                        "--device cuda:{id}: the CUDA execution provider cannot be used ({e}). Install onnxruntime-gpu with a matching CUDA runtime and driver; evalkit never falls back to the CPU silently, use --device cpu for that"
                    ))
                })?
            }
        };
        let session = builder.commit_from_file(path).map_err(|e| {
            let msg = e.to_string();
            Error::bad_format(
                path,
                format!(
                    "is not a model ONNX Runtime can load: {}",
                    msg.lines().next().unwrap_or(&msg)
                ),
            )
        })?;

        // The input: one float tensor of shape [N, F].
        let inputs = session.inputs();
        if inputs.len() != 1 {
            return Err(Error::bad_format(
                path,
                format!(
                    "takes {} inputs: {}; evalkit feeds one float tensor [rows, features]",
                    inputs.len(),
                    describe_io(inputs)
                ),
            ));
        }
        let input = &inputs[0];
        let (features, batch, input_shape, input_type) = match (
            input.dtype(),
            Precision::of(input.dtype()),
        ) {
            (ValueType::Tensor { shape, .. }, Some(precision)) if shape.len() == 2 => (
                (shape[1] > 0).then_some(shape[1] as usize),
                (shape[0] > 0).then_some(shape[0] as usize),
                shape.iter().copied().collect::<Vec<i64>>(),
                precision,
            ),
            (other, _) => {
                return Err(Error::bad_format(
                    path,
                    format!(
                        "takes input '{}' as {other}; evalkit feeds a float32 or float16 tensor [rows, features] (export the model with a FloatTensorType input of shape [None, n_features])",
                        input.name()
                    ),
                ));
            }
        };

        // The score output.
        let outputs = session.outputs();
        let is_float = |o: &&ort::value::Outlet| Precision::of(o.dtype()).is_some();
        let zipmap = || {
            Error::bad_format(
                path,
                format!(
                    "gives its probabilities as a ZipMap (a sequence of maps: {}); export the classifier without ZipMap, e.g. skl2onnx.to_onnx(model, ..., options={{id(classifier): {{'zipmap': False}}}})",
                    describe_io(outputs)
                ),
            )
        };
        let chosen = match output {
            Some(name) => {
                let o = outputs.iter().find(|o| o.name() == name).ok_or_else(|| {
                    Error::usage(format!(
                        "--output {name}: {} has no such output; it has {}",
                        path.display(),
                        describe_io(outputs)
                    ))
                })?;
                if o.dtype().is_sequence() || o.dtype().is_map() {
                    return Err(zipmap());
                }
                if !is_float(&o) {
                    return Err(Error::usage(format!(
                        "--output {name}: the output is {}, not a float32 or float16 tensor of scores",
                        o.dtype()
                    )));
                }
                o
            }
            None => {
                // float32 outputs first, as before float16 ones were read:
                // the same choice for every model that has one.
                let of = |p: Precision| -> Vec<&ort::value::Outlet> {
                    outputs
                        .iter()
                        .filter(|o| Precision::of(o.dtype()) == Some(p))
                        .collect()
                };
                fn pick<'a>(floats: &[&'a ort::value::Outlet]) -> Option<&'a ort::value::Outlet> {
                    floats
                        .iter()
                        .find(|o| o.name().to_lowercase().contains("prob"))
                        .or_else(|| floats.first())
                        .copied()
                }
                match pick(&of(Precision::F32)).or_else(|| pick(&of(Precision::F16))) {
                    Some(o) => o,
                    None if outputs
                        .iter()
                        .any(|o| o.dtype().is_sequence() || o.dtype().is_map()) =>
                    {
                        return Err(zipmap());
                    }
                    None => {
                        return Err(Error::bad_format(
                            path,
                            format!(
                                "has no float32 or float16 tensor output to use as scores: {}",
                                describe_io(outputs)
                            ),
                        ));
                    }
                }
            }
        };
        let shape = match chosen.dtype() {
            ValueType::Tensor { shape, .. } => shape.iter().copied().collect(),
            _ => Vec::new(),
        };
        let output_type = Precision::of(chosen.dtype()).unwrap_or(Precision::F32);
        let run_options = RunOptions::new()
            .map_err(|e| setup(e.to_string()))?
            .with_outputs(OutputSelector::no_default().with(chosen.name()));
        Ok(Model {
            run_options,
            input: input.name().to_string(),
            features,
            batch,
            input_shape,
            input_type,
            output: OutputInfo {
                name: chosen.name().to_string(),
                shape,
            },
            output_type,
            provider: device.provider(),
            session,
        })
    }

    /// Runs one batch (`rows × features`, row-major, in the model's
    /// [`Model::input_type`]) and appends the score output's values to
    /// `out`; returns the output's width (values per row).
    pub fn run(
        &mut self,
        batch: FeatureRows<'_>,
        rows: usize,
        features: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize> {
        self.run_timed(batch, rows, features, out).map(|(w, _)| w)
    }

    /// The input's shape as written in messages: `[-1, 30]` becomes
    /// `[N, 30]`.
    pub fn describe_input(&self) -> String {
        let dims: Vec<String> = self
            .input_shape
            .iter()
            .enumerate()
            .map(|(i, &d)| match (i, d) {
                (0, d) if d <= 0 => "N".to_string(),
                (_, d) if d <= 0 => "?".to_string(),
                (_, d) => d.to_string(),
            })
            .collect();
        format!("input '{}' of shape [{}]", self.input, dims.join(", "))
    }

    /// As [`Model::run`], and also returns the time spent inside ONNX
    /// Runtime's `run` alone (what the model itself costs; the rest of a
    /// request is evalkit's overhead).
    pub fn run_timed(
        &mut self,
        batch: FeatureRows<'_>,
        rows: usize,
        features: usize,
        out: &mut Vec<f32>,
    ) -> Result<(usize, std::time::Duration)> {
        let shape_err =
            |e: ndarray::ShapeError| Error::usage(format!("internal batch shape error: {e}"));
        let pass_err =
            |e: ort::Error| Error::usage(format!("cannot pass the batch to ONNX Runtime: {e}"));
        let tensor = match (batch, self.input_type) {
            (FeatureRows::F32(b), Precision::F32) => TensorRef::from_array_view(
                ndarray::ArrayView2::from_shape((rows, features), b).map_err(shape_err)?,
            )
            .map_err(pass_err)?
            .into_dyn(),
            (FeatureRows::F16(b), Precision::F16) => TensorRef::from_array_view(
                ndarray::ArrayView2::from_shape((rows, features), b).map_err(shape_err)?,
            )
            .map_err(pass_err)?
            .into_dyn(),
            (_, want) => {
                return Err(Error::usage(format!(
                    "internal error: a batch of another type than the model's {} input",
                    want.name()
                )));
            }
        };
        let started = std::time::Instant::now();
        let outputs = self
            .session
            .run_with_options(
                ort::inputs![self.input.as_str() => tensor],
                &self.run_options,
            )
            .map_err(|e| Error::usage(format!("the model failed on a batch: {e}")))?;
        let inside = started.elapsed();
        let value = outputs.get(self.output.name.as_str()).ok_or_else(|| {
            Error::usage(format!("the model gave no output '{}'", self.output.name))
        })?;
        let extract_err =
            |e: ort::Error| Error::usage(format!("output '{}': {e}", self.output.name));
        // The shape is a few numbers; the values go straight into `out`
        // (float16 widened to f32, which is exact).
        let shape: Vec<i64> = match self.output_type {
            Precision::F32 => {
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(extract_err)?;
                out.extend_from_slice(data);
                shape.to_vec()
            }
            Precision::F16 => {
                let (shape, data) = value.try_extract_tensor::<f16>().map_err(extract_err)?;
                out.extend(data.iter().map(|v| v.to_f32()));
                shape.to_vec()
            }
        };
        let width = match shape.len() {
            1 => 1,
            2 => shape[1].max(0) as usize,
            _ => {
                return Err(Error::usage(format!(
                    "output '{}' has shape {:?}; evalkit reads [rows] or [rows, k]",
                    self.output.name, shape
                )));
            }
        };
        if shape.first().copied() != Some(rows as i64) {
            return Err(Error::usage(format!(
                "output '{}' has {} rows for a batch of {rows}",
                self.output.name,
                shape.first().copied().unwrap_or(0)
            )));
        }
        Ok((width, inside))
    }
}
