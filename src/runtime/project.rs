//! [`Project`]: where an experiment's lockfile and cache live.

use std::path::{Path, PathBuf};

use super::Cache;

/// The project an experiment file belongs to: the nearest folder above it
/// that holds `lockfiles/`, else the nearest git repository's top, else the
/// experiment's own folder.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project's top folder.
    pub root: PathBuf,
    /// The cache (`<root>/.echolab/cache`, or `ECHOLAB_CACHE`, or a flag).
    pub cache: Cache,
}

impl Project {
    /// The project of `experiment_file`; `cache` overrides the cache's place.
    pub fn locate(experiment_file: &Path, cache: Option<&Path>) -> Project {
        let start = experiment_file
            .canonicalize()
            .ok()
            .and_then(|path| path.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        Project::from_folder(&start, cache)
    }

    /// The project the current folder belongs to.
    pub fn current(cache: Option<&Path>) -> Project {
        let start = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Project::from_folder(&start, cache)
    }

    fn from_folder(start: &Path, cache: Option<&Path>) -> Project {
        let root = root_above(start);
        let cache_root = match (cache, std::env::var_os("ECHOLAB_CACHE")) {
            (Some(path), _) => path.to_path_buf(),
            (None, Some(path)) => PathBuf::from(path),
            (None, None) => root.join(".echolab").join("cache"),
        };
        Project {
            cache: Cache::new(&cache_root),
            root,
        }
    }

    /// The folder of the logs of experiment `name`'s stages.
    pub fn logs(&self, name: &str) -> PathBuf {
        self.root.join(".echolab").join("logs").join(name)
    }

    /// Where `echolab run` saves experiment `name`'s compiled plan.
    pub fn plan_file(&self, name: &str) -> PathBuf {
        self.root
            .join(".echolab")
            .join("plans")
            .join(format!("{name}.json"))
    }

    /// The lockfile of experiment `name`.
    pub fn lockfile(&self, name: &str) -> PathBuf {
        self.root.join("lockfiles").join(format!("{name}.lock"))
    }
}

/// The top folder of the project whose experiments live in `folder`,
/// canonical: what the paths an experiment names must stay under.
pub fn project_root(folder: &Path) -> PathBuf {
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let start = folder
        .canonicalize()
        .or_else(|_| std::path::absolute(folder))
        .unwrap_or_else(|_| folder.to_path_buf());
    root_above(&start)
}

/// The nearest folder at or above `start` that holds `lockfiles/`, else the
/// nearest git repository's top, else `start`.
fn root_above(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|folder| folder.join("lockfiles").is_dir())
        .or_else(|| {
            start
                .ancestors()
                .find(|folder| folder.join(".git").exists())
        })
        .unwrap_or(start)
        .to_path_buf()
}
