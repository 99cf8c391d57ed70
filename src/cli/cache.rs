//! `echolab cache verify`, `echolab gc`, `echolab clean`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use crate::lockfile::Lockfile;
use crate::plan::StageKey;
use crate::runtime::{damage_text, Cache, Lookup, Manifest, Project};

fn project_cache(cache: Option<&Path>) -> Project {
    Project::current(cache)
}

/// Re-hashes every entry and reports the corrupt or incomplete ones.
pub(super) fn verify(cache: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cache = project_cache(cache).cache;
    let mut bad = 0;
    let keys = cache.keys()?;
    for key in &keys {
        match cache.inspect(key) {
            Ok(Lookup::Intact(_) | Lookup::Absent) => {}
            Ok(Lookup::Damaged { damage, .. }) => {
                bad += 1;
                println!(
                    "damaged     {}{}: {}",
                    key.short(),
                    recorded_name(&cache, key),
                    damage_text(&damage)
                );
            }
            Err(error) => {
                bad += 1;
                println!("unreadable  {}: {error}", key.short());
            }
        }
    }
    println!(
        "{} entries checked in {}, {bad} bad",
        keys.len(),
        cache.root().display()
    );
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// ` (NAME)`: the stage name a damaged entry's manifest gives, when it
/// still reads.
fn recorded_name(cache: &Cache, key: &StageKey) -> String {
    std::fs::read_to_string(cache.entry_path(key).join("manifest.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Manifest>(&text).ok())
        .map_or_else(String::new, |manifest| format!(" ({})", manifest.name))
}

/// Keys referenced by any lockfile of the project.
fn referenced(project: &Project) -> anyhow::Result<BTreeSet<StageKey>> {
    let mut keys = BTreeSet::new();
    let folder = project.root.join("lockfiles");
    if let Ok(listing) = std::fs::read_dir(&folder) {
        for item in listing.flatten() {
            let path = item.path();
            if path
                .extension()
                .is_some_and(|extension| extension == "lock")
            {
                if let Some(lock) = Lockfile::read(&path)? {
                    keys.extend(lock.stages.into_values().map(|record| record.key));
                }
            }
        }
    }
    Ok(keys)
}

fn size_of(path: &Path) -> u64 {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if metadata.is_dir() {
        std::fs::read_dir(path)
            .map(|listing| listing.flatten().map(|item| size_of(&item.path())).sum())
            .unwrap_or(0)
    } else {
        metadata.len()
    }
}

/// Drops every entry (and leftover work or staging folder) that no lockfile references.
pub(super) fn gc(cache: Option<&Path>) -> anyhow::Result<ExitCode> {
    let project = project_cache(cache);
    let keep = referenced(&project)?;
    let cache: &Cache = &project.cache;
    let mut removed = 0;
    let mut freed = 0;
    for key in cache.keys()? {
        if !keep.contains(&key) {
            freed += size_of(&cache.entry_path(&key));
            cache.remove(&key)?;
            removed += 1;
        }
    }
    // Staging folders are never needed once their writer is gone; work
    // folders only serve a resume of a stage not yet in the cache. A folder
    // whose key's lock is held belongs to a running process: left alone.
    for folder in ["staging", "work"] {
        let path = cache.root().join(folder);
        let Ok(listing) = std::fs::read_dir(&path) else {
            continue;
        };
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            let key = StageKey(name.split('.').next().unwrap_or_default().to_string());
            let resumable = folder == "work" && keep.contains(&key) && cache.get(&key)?.is_none();
            if resumable || cache.is_being_computed(&key) {
                continue;
            }
            freed += size_of(&item.path());
            let _ = std::fs::remove_dir_all(item.path());
        }
    }
    println!(
        "removed {removed} entries no lockfile references, freed {:.1} MiB",
        freed as f64 / (1 << 20) as f64
    );
    Ok(ExitCode::SUCCESS)
}

/// Removes the whole cache.
pub(super) fn clean(cache: Option<&Path>) -> anyhow::Result<ExitCode> {
    let project = project_cache(cache);
    let root = project.cache.root();
    if root.exists() {
        let freed = size_of(root);
        std::fs::remove_dir_all(root)?;
        println!(
            "removed {} ({:.1} MiB)",
            root.display(),
            freed as f64 / (1 << 20) as f64
        );
    } else {
        println!("nothing to remove at {}", root.display());
    }
    Ok(ExitCode::SUCCESS)
}
