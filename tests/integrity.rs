//! Integrity a reviewer can rely on, through the real binary on the smoke
//! experiment and its committed lockfile: a damaged cache entry is never
//! used (every command says so and `run` recomputes it), and a lockfile
//! edited by hand is refused with every reason, stage by stage.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use proptest::prelude::*;

/// A project holding the smoke experiment and its committed lockfile.
fn fresh_project() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    std::fs::create_dir_all(root.join("lockfiles")).unwrap();
    std::fs::create_dir_all(root.join("experiments")).unwrap();
    std::fs::copy(
        "experiments/smoke.echo",
        root.join("experiments/smoke.echo"),
    )
    .unwrap();
    std::fs::copy("lockfiles/smoke.lock", root.join("lockfiles/smoke.lock")).unwrap();
    directory
}

fn echolab(root: &Path, arguments: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_echolab"))
        .args(arguments)
        .current_dir(root)
        .env_remove("ECHOLAB_CACHE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The smoke experiment computed once, `--frozen` (so it reproduced the
/// committed lockfile); each test copies it.
fn computed() -> &'static Path {
    static COMPUTED: OnceLock<tempfile::TempDir> = OnceLock::new();
    COMPUTED
        .get_or_init(|| {
            let project = fresh_project();
            let (ok, output) = echolab(
                project.path(),
                &["run", "experiments/smoke.echo", "--frozen"],
            );
            assert!(ok, "{output}");
            project
        })
        .path()
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_folder(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), &target).unwrap();
        }
    }
}

/// A copy of the computed project.
fn computed_copy() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    copy_folder(computed(), directory.path());
    directory
}

/// The cache folder of the stage `name` (from its manifest).
fn entry_of(root: &Path, name: &str) -> PathBuf {
    let entries = root.join("experiments/.echolab/cache/v1");
    let entries = if entries.exists() {
        entries
    } else {
        root.join(".echolab/cache/v1")
    };
    for item in std::fs::read_dir(&entries).unwrap() {
        let folder = item.unwrap().path();
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("manifest.json")).unwrap())
                .unwrap();
        if manifest["name"] == name {
            return folder;
        }
    }
    panic!("no entry of `{name}` in {}", entries.display());
}

fn flip_byte(path: &Path, offset: usize, mask: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    let offset = offset % bytes.len();
    bytes[offset] ^= mask;
    std::fs::write(path, bytes).unwrap();
}

fn lockfile(root: &Path) -> String {
    std::fs::read_to_string(root.join("lockfiles/smoke.lock")).unwrap()
}

#[test]
fn a_file_left_out_of_its_manifest_is_damage_that_every_command_names_and_run_repairs() {
    let project = computed_copy();
    let root = project.path();
    let locked = lockfile(root);
    // The case: flip a byte of `base`'s model and take the file
    // out of the entry's manifest, so the manifest lists nothing missing.
    let entry = entry_of(root, "base");
    flip_byte(&entry.join("model.safetensors"), 1000, 0x40);
    let manifest_path = entry.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest["artifacts"]
        .as_object_mut()
        .unwrap()
        .remove("model.safetensors");
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();

    let (ok, output) = echolab(root, &["cache", "verify"]);
    assert!(!ok, "{output}");
    assert!(
        output.contains("(base): `model.safetensors` is not in `manifest.json`")
            && output.contains("1 bad"),
        "{output}"
    );
    let (_, output) = echolab(root, &["status", "experiments/smoke.echo"]);
    let base = output
        .lines()
        .position(|line| line.ends_with(" base"))
        .unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert!(lines[base].starts_with("stale"), "{output}");
    assert!(lines[base + 1].contains("damaged"), "{output}");
    let (_, output) = echolab(root, &["explain", "experiments/smoke.echo", "base"]);
    assert!(
        output.contains("status     stale") && output.contains("damaged"),
        "{output}"
    );
    let (ok, output) = echolab(
        root,
        &["verify", "experiments/smoke.echo", "--stage", "base"],
    );
    assert!(!ok && output.contains("DAMAGED     base"), "{output}");
    assert!(!output.contains("identical   base"), "{output}");

    // `run --frozen` recomputes the damaged entry to the recorded bytes.
    let (ok, output) = echolab(root, &["run", "experiments/smoke.echo", "--frozen"]);
    assert!(ok, "{output}");
    assert!(output.contains("damaged  base: "), "{output}");
    assert!(output.contains("ran      base "), "{output}");
    assert!(output.contains("1 ran, 12 cached, 0 failed"), "{output}");
    assert_eq!(lockfile(root), locked);
    let (ok, output) = echolab(root, &["cache", "verify"]);
    assert!(ok && output.contains("0 bad"), "{output}");
}

#[test]
fn verify_reads_the_bytes_on_disk_and_blames_the_damaged_stage_not_its_readers() {
    let project = computed_copy();
    let root = project.path();
    flip_byte(
        &entry_of(root, "base").join("model.safetensors"),
        5000,
        0x01,
    );
    let (ok, output) = echolab(root, &["verify", "experiments/smoke.echo"]);
    assert!(!ok, "{output}");
    assert!(
        output.contains("DAMAGED     base: `model.safetensors` differs from its digest"),
        "{output}"
    );
    // The RL stages read `base`: they are not verified from damaged bytes.
    let tuned = output
        .lines()
        .find(|line| line.contains("tuned[kl=constant(0)]") && !line.contains("main:"))
        .unwrap_or_else(|| panic!("{output}"));
    assert!(
        tuned.starts_with("failed") && tuned.contains("upstream stage `base` is damaged"),
        "{output}"
    );
    assert!(!output.contains("DIFFERS"), "{output}");
}

/// Replaces the first line of the lockfile that starts with `prefix` in
/// the table `[header]` by `replacement`.
fn edit_lockfile(root: &Path, header: &str, prefix: &str, replacement: &str) {
    let text = lockfile(root);
    let mut in_table = false;
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with('[') {
                in_table = line == format!("[{header}]");
            } else if in_table && !done && line.starts_with(prefix) {
                done = true;
                return replacement.to_string();
            }
            line.to_string()
        })
        .collect();
    assert!(done, "no `{prefix}` in [{header}]");
    std::fs::write(root.join("lockfiles/smoke.lock"), lines.join("\n") + "\n").unwrap();
}

#[test]
fn every_hand_edit_of_a_lockfile_is_refused_with_its_reason_by_every_locked_command() {
    let edits: [(&str, &str, &str, &str); 3] = [
        (
            "stages.base",
            "key = ",
            "key = \"0000000000000000000000000000000000000000000000000000000000000000\"",
            "stage `base`: the recorded `key` 000000000000.. is not what the experiment gives",
        ),
        (
            "stages.\"main:base\".upstream",
            "model = ",
            "model = \"1111111111111111111111111111111111111111111111111111111111111111\"",
            "stage `main:base` reads `base` (as `model`), which changed",
        ),
        (
            "stages.base.parameters",
            "seed = ",
            "seed = 12345",
            "stage `base` parameter `seed` 12345 -> ",
        ),
    ];
    for (header, prefix, replacement, reason) in edits {
        // From an empty cache: the check comes before any work.
        let project = fresh_project();
        let root = project.path();
        edit_lockfile(root, header, prefix, replacement);
        let edited = lockfile(root);
        for arguments in [
            &["lock", "experiments/smoke.echo", "--locked"][..],
            &["run", "experiments/smoke.echo", "--locked"],
            &["run", "experiments/smoke.echo", "--frozen"],
        ] {
            let (ok, output) = echolab(root, arguments);
            assert!(!ok, "{arguments:?} accepted `{replacement}`:\n{output}");
            assert!(
                output.contains("needs to be updated") && output.contains(reason),
                "{arguments:?} after `{replacement}`:\n{output}"
            );
            assert_eq!(lockfile(root), edited, "{arguments:?} rewrote the lockfile");
        }
        let (_, output) = echolab(root, &["status", "experiments/smoke.echo"]);
        assert!(
            output.contains(reason),
            "status after `{replacement}`:\n{output}"
        );
    }
}

/// The name of the stage a lockfile table header belongs to
/// (`[stages."main:base".upstream]` -> `main:base`).
fn stage_of_header(header: &str) -> Option<String> {
    let rest = header.trim_start_matches('[').strip_prefix("stages.")?;
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.split('"').next().map(str::to_string);
    }
    rest.split(['.', ']']).next().map(str::to_string)
}

/// Every `(line, stage)` of the lockfile whose value has a digit to change.
fn editable_lines(text: &str) -> Vec<(usize, String)> {
    let mut stage = None;
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.starts_with('[') {
            stage = stage_of_header(line);
        } else if let (Some(stage), Some((_, value))) = (&stage, line.split_once(" = ")) {
            if value.chars().any(|c| c.is_ascii_digit()) {
                lines.push((number, stage.clone()));
            }
        }
    }
    lines
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    /// A random byte of a random cached file flipped: `run --frozen`
    /// recomputes what it damaged to the recorded bytes (or finds nothing
    /// that matters changed), and the cache is whole again.
    #[test]
    fn a_flipped_byte_in_the_cache_is_recomputed_to_the_recorded_bytes(
        entry_choice in any::<prop::sample::Index>(),
        file_choice in any::<prop::sample::Index>(),
        offset in any::<usize>(),
        mask in 1u8..=255,
    ) {
        let project = computed_copy();
        let root = project.path();
        let locked = lockfile(root);
        let entries_folder = root.join("experiments/.echolab/cache/v1");
        let entries_folder = if entries_folder.exists() { entries_folder } else { root.join(".echolab/cache/v1") };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&entries_folder).unwrap().map(|item| item.unwrap().path()).collect();
        entries.sort();
        let entry = entry_choice.get(&entries);
        let mut files = Vec::new();
        let mut pending = vec![entry.clone()];
        while let Some(folder) = pending.pop() {
            for item in std::fs::read_dir(folder).unwrap() {
                let path = item.unwrap().path();
                if path.is_dir() { pending.push(path) } else { files.push(path) }
            }
        }
        files.sort();
        let file = file_choice.get(&files);
        flip_byte(file, offset, mask);
        let (ok, output) = echolab(root, &["run", "experiments/smoke.echo", "--frozen"]);
        prop_assert!(ok, "after flipping {}:\n{}", file.display(), output);
        prop_assert_eq!(lockfile(root), locked.clone());
        let (ok, output) = echolab(root, &["cache", "verify"]);
        prop_assert!(ok && output.contains("0 bad"), "{}", output);
    }

    /// A digit of a random value in the lockfile's stage tables changed:
    /// `run --frozen` refuses and names the stage, and leaves the
    /// lockfile as it was.
    #[test]
    fn a_changed_value_in_the_lockfile_is_refused_with_its_stage_named(
        line_choice in any::<prop::sample::Index>(),
        digit_choice in any::<prop::sample::Index>(),
        new_digit in 0u8..9,
    ) {
        let project = computed_copy();
        let root = project.path();
        let text = lockfile(root);
        let candidates = editable_lines(&text);
        let (number, stage) = line_choice.get(&candidates).clone();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let line = &lines[number];
        let (name, value) = line.split_once(" = ").unwrap();
        let digits: Vec<usize> = value.char_indices().filter(|(_, c)| c.is_ascii_digit()).map(|(i, _)| i).collect();
        let at = *digit_choice.get(&digits);
        let old = value.as_bytes()[at] - b'0';
        // Another digit: 0..9 skipping the old one.
        let new = if new_digit >= old { new_digit + 1 } else { new_digit };
        let mut value = value.to_string();
        value.replace_range(at..at + 1, &char::from(b'0' + new).to_string());
        let edited_line = format!("{name} = {value}");
        lines[number] = edited_line.clone();
        let edited = lines.join("\n") + "\n";
        std::fs::write(root.join("lockfiles/smoke.lock"), &edited).unwrap();
        let (ok, output) = echolab(root, &["run", "experiments/smoke.echo", "--frozen"]);
        prop_assert!(!ok, "accepted `{}` in `{}`:\n{}", edited_line, stage, output);
        prop_assert!(output.contains(&format!("`{stage}`")), "`{}` in `{}`:\n{}", edited_line, stage, output);
        prop_assert_eq!(lockfile(root), edited);
    }
}
