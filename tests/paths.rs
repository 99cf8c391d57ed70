//! Paths an experiment names (`jsonl(path = ...)`, `gsm8k(path = ...)`,
//! `use "..."`) through the real binary and the library: they stay inside
//! the project unless the source opts in with `outside_project = true`
//! (recorded in the lockfile), they name regular files within a size limit,
//! and a diagnostic never shows a line of a file that is not `.echo`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A project (`project/`, with `lockfiles/`, `experiments/` and `data/`)
/// and, next to it, a folder outside it (`outside/`), in one temporary folder.
struct Layout {
    _directory: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

const PROBLEMS: &str = "{\"question\": \"Tom has 3 apples and buys 4 more. How many apples does he have?\", \"answer\": \"#### 7\"}\n{\"question\": \"A box holds 6 pens. How many pens are in 2 boxes?\", \"answer\": \"12\"}\n";

/// A line no diagnostic may print: it stands in a file that is not `.echo`.
const SECRET: &str = "SECRET-LINE-4f1c9a";

fn layout() -> Layout {
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path().canonicalize().unwrap();
    let root = base.join("project");
    let outside = base.join("outside");
    for folder in [
        root.join("lockfiles"),
        root.join("experiments"),
        root.join("data/gsm"),
        outside.clone(),
    ] {
        std::fs::create_dir_all(folder).unwrap();
    }
    std::fs::write(root.join("data/problems.jsonl"), PROBLEMS).unwrap();
    std::fs::write(root.join("data/gsm/test.jsonl"), PROBLEMS).unwrap();
    std::fs::write(outside.join("problems.jsonl"), PROBLEMS).unwrap();
    std::fs::write(outside.join("test.jsonl"), PROBLEMS).unwrap();
    std::fs::write(
        outside.join("shared.echo"),
        "source shared = synthetic(format = code)\n",
    )
    .unwrap();
    std::fs::write(outside.join("notes.txt"), format!("{SECRET}\n")).unwrap();
    Layout {
        _directory: directory,
        root,
        outside,
    }
}

/// `experiments/paths.echo` evaluating on `source` (a source call), with
/// `head` before the experiment; returns its path.
fn experiment(layout: &Layout, head: &str, source: &str) -> PathBuf {
    let text = format!(
        "{head}experiment paths {{\n  source code = synthetic(format = code, problems = 100)\n  source file = {source}\n  model net = gpt(preset = tiny)\n  pretrain base {{ model = net  data = code  tokens = 10k }}\n  eval {{ models = [base]  sets = [file] }}\n}}\n"
    );
    let path = layout.root.join("experiments/paths.echo");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `echolab ARGUMENTS` in the project; kills it after 60 s (a read of
/// `/dev/zero` or a FIFO must never hang). Returns success and the output.
fn echolab(layout: &Layout, arguments: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_echolab"))
        .args(arguments)
        .current_dir(&layout.root)
        .env("NO_COLOR", "1")
        .env_remove("ECHOLAB_CACHE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("`echolab {}` did not finish in 60 s", arguments.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `echolab check` of the experiment as JSON diagnostics: `(line, column,
/// message)` of each error, and the whole output.
fn check_errors(layout: &Layout) -> (Vec<(u64, u64, String)>, String) {
    let (ok, output) = echolab(
        layout,
        &[
            "check",
            "--message-format",
            "json",
            "experiments/paths.echo",
        ],
    );
    let errors: Vec<(u64, u64, String)> = output
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|diagnostic| diagnostic["severity"] == "error")
        .map(|diagnostic| {
            assert_eq!(diagnostic["file"], "experiments/paths.echo", "{output}");
            (
                diagnostic["line"].as_u64().unwrap(),
                diagnostic["column"].as_u64().unwrap(),
                diagnostic["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ok, errors.is_empty(), "{output}");
    (errors, output)
}

/// Checks `source`, expecting exactly one error at the string on line 3
/// whose message contains `expected`; `lock` must fail too and write
/// nothing. Returns the error's message.
fn refused(layout: &Layout, source: &str, expected: &str) -> String {
    let path = experiment(layout, "", source);
    let (errors, output) = check_errors(layout);
    let column = source.find('"').unwrap() as u64 + 17;
    assert_eq!(errors.len(), 1, "{source}: {output}");
    let (line, found_column, message) = &errors[0];
    assert_eq!((*line, *found_column), (3, column), "{source}: {output}");
    assert!(message.contains(expected), "{source}: {message}");
    let (ok, output) = echolab(layout, &["lock", "experiments/paths.echo"]);
    assert!(!ok, "{source}: lock succeeded: {output}");
    assert!(
        !layout.root.join("lockfiles/paths.lock").exists(),
        "{source}: lock wrote a lockfile"
    );
    assert!(path.exists());
    message.clone()
}

fn lockfile(layout: &Layout) -> String {
    std::fs::read_to_string(layout.root.join("lockfiles/paths.lock")).unwrap()
}

#[test]
fn absolute_paths_outside_the_project_are_refused_at_check_time() {
    let layout = layout();
    for path in ["/etc/passwd", "/etc/shadow", "/proc/self/environ"] {
        let message = refused(
            &layout,
            &format!("jsonl(path = \"{path}\")"),
            "is outside the project",
        );
        assert_eq!(message, format!("`{path}` is outside the project"));
    }
    let outside = layout.outside.join("problems.jsonl");
    refused(
        &layout,
        &format!("jsonl(path = \"{}\")", outside.display()),
        "is outside the project",
    );
}

#[test]
fn a_parent_folder_escape_is_refused() {
    let layout = layout();
    refused(
        &layout,
        "jsonl(path = \"../../outside/problems.jsonl\")",
        "is outside the project",
    );
    refused(
        &layout,
        "jsonl(path = \"../../../../../../../../../etc/passwd\")",
        "is outside the project",
    );
    refused(
        &layout,
        "gsm8k(split = test, path = \"../../outside\")",
        "is outside the project",
    );
    // `..` that stays inside the project is fine, and recorded as written.
    experiment(&layout, "", "jsonl(path = \"../data/problems.jsonl\")");
    let (ok, output) = echolab(&layout, &["lock", "experiments/paths.echo"]);
    assert!(ok, "{output}");
    assert!(lockfile(&layout).contains("[inputs.\"../data/problems.jsonl\"]"));
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_inside_the_project_that_leads_out_of_it_is_refused() {
    let layout = layout();
    let link = layout.root.join("data/link.jsonl");
    std::os::unix::fs::symlink(layout.outside.join("problems.jsonl"), &link).unwrap();
    refused(
        &layout,
        "jsonl(path = \"../data/link.jsonl\")",
        "is outside the project",
    );
    // A folder linked out of the project, and a file linked out of a folder.
    std::os::unix::fs::symlink(&layout.outside, layout.root.join("data/away")).unwrap();
    refused(
        &layout,
        "gsm8k(split = test, path = \"../data/away\")",
        "is outside the project",
    );
    let inner = layout.root.join("data/linked_gsm");
    std::fs::create_dir_all(&inner).unwrap();
    std::os::unix::fs::symlink(layout.outside.join("test.jsonl"), inner.join("test.jsonl"))
        .unwrap();
    let message = refused(
        &layout,
        "gsm8k(split = test, path = \"../data/linked_gsm\")",
        "is outside the project",
    );
    assert_eq!(
        message,
        "`../data/linked_gsm/test.jsonl` is outside the project"
    );
    // A link that stays inside the project is fine.
    std::os::unix::fs::symlink(
        layout.root.join("data/problems.jsonl"),
        layout.root.join("data/inside.jsonl"),
    )
    .unwrap();
    experiment(&layout, "", "jsonl(path = \"../data/inside.jsonl\")");
    assert!(check_errors(&layout).0.is_empty());
}

#[cfg(unix)]
#[test]
fn devices_fifos_and_folders_are_refused_without_reading_them() {
    let layout = layout();
    // Even with the opt-in, `/dev/zero` is no regular file: check and lock end at once.
    let started = Instant::now();
    let message = refused(
        &layout,
        "jsonl(path = \"/dev/zero\", outside_project = true)",
        "a character device, not a regular file",
    );
    assert_eq!(
        message,
        "cannot read `/dev/zero`: it is a character device, not a regular file"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let fifo = layout.root.join("data/fifo.jsonl");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    refused(
        &layout,
        "jsonl(path = \"../data/fifo.jsonl\")",
        "it is a FIFO, not a regular file",
    );
    refused(
        &layout,
        "jsonl(path = \"../data\")",
        "it is a directory, not a regular file",
    );
    refused(
        &layout,
        "gsm8k(split = test, path = \"../data/problems.jsonl\")",
        "it is a regular file, not a folder",
    );
    refused(
        &layout,
        "gsm8k(split = train, path = \"../data/gsm\")",
        "file `../data/gsm/train.jsonl` not found",
    );
    // The runtime's readers refuse them too, rather than block.
    let mapping = echolab::data::jsonl::FieldMapping::new("question", "answer");
    for path in [fifo.as_path(), Path::new("/dev/zero"), &layout.root] {
        let error = echolab::data::jsonl::load(path, &mapping).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let layout = layout();
    // Sparse: no disk is written, but the size is one byte over 1 GiB.
    let huge = layout.root.join("data/huge.jsonl");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(echolab::input_file::DATA_FILE_LIMIT + 1)
        .unwrap();
    let message = refused(
        &layout,
        "jsonl(path = \"../data/huge.jsonl\")",
        "larger than the limit of 1 GiB",
    );
    assert_eq!(
        message,
        "cannot read `../data/huge.jsonl`: it is larger than the limit of 1 GiB"
    );
    let mapping = echolab::data::jsonl::FieldMapping::new("question", "answer");
    let error = echolab::data::jsonl::load(&huge, &mapping).unwrap_err();
    assert!(error.to_string().contains("limit of 1 GiB"), "{error}");
    // An `.echo` file over 4 MiB.
    std::fs::File::create(layout.root.join("experiments/huge.echo"))
        .unwrap()
        .set_len(echolab::input_file::ECHO_FILE_LIMIT + 1)
        .unwrap();
    experiment(
        &layout,
        "use \"huge.echo\"\n",
        "jsonl(path = \"../data/problems.jsonl\")",
    );
    let (errors, output) = check_errors(&layout);
    assert_eq!(
        errors,
        vec![(
            1,
            5,
            "cannot read `experiments/huge.echo`: it is larger than the limit of 4 MiB".to_string()
        )],
        "{output}"
    );
    // A file of exactly the limit is read to its end and no further.
    let exact = layout.root.join("data/exact.txt");
    std::fs::write(&exact, "abcd").unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut echolab::input_file::open(&exact, 4).unwrap(),
        &mut text,
    )
    .unwrap();
    assert_eq!(text, "abcd");
    let error = std::io::Read::read_to_string(
        &mut echolab::input_file::Bounded::new(std::fs::File::open(&exact).unwrap(), 3),
        &mut String::new(),
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "it is larger than the limit of 3 bytes");
}

#[test]
fn the_planner_refuses_a_file_swapped_after_the_check() {
    let layout = layout();
    let path = experiment(&layout, "", "jsonl(path = \"../data/problems.jsonl\")");
    let compilation = echolab::compiler::compile_file(&path).unwrap();
    let checked = compilation.experiment.unwrap();
    let directory = path.parent().unwrap();
    assert!(echolab::plan::build(&checked, directory).is_ok());
    let data = layout.root.join("data/problems.jsonl");
    std::fs::File::create(&data)
        .unwrap()
        .set_len(echolab::input_file::DATA_FILE_LIMIT + 1)
        .unwrap();
    let error = echolab::plan::build(&checked, directory).unwrap_err();
    assert!(
        error.to_string().contains("larger than the limit of 1 GiB"),
        "{error}"
    );
    #[cfg(unix)]
    {
        std::fs::remove_file(&data).unwrap();
        std::os::unix::fs::symlink(layout.outside.join("problems.jsonl"), &data).unwrap();
        let error = echolab::plan::build(&checked, directory).unwrap_err();
        assert!(
            matches!(error, echolab::plan::PlanError::Outside { .. }),
            "{error}"
        );
    }
}

#[test]
fn use_never_shows_a_line_of_a_file_that_is_not_echo() {
    let layout = layout();
    let passwd_first_line = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| text.lines().next().map(str::to_string))
        .unwrap_or_else(|| "root:x:0:0".to_string());
    std::fs::write(
        layout.root.join("experiments/notes.txt"),
        format!("{SECRET}\n"),
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        layout.root.join("experiments/notes.txt"),
        layout.root.join("experiments/notes.echo"),
    )
    .unwrap();
    let mut cases = vec![
        ("/etc/passwd", "`/etc/passwd` is not an `.echo` file"),
        (
            "../../../../../../../../../etc/passwd",
            "`experiments/../../../../../../../../../etc/passwd` is not an `.echo` file",
        ),
        (
            "notes.txt",
            "`experiments/notes.txt` is not an `.echo` file",
        ),
        (
            "../../outside/shared.echo",
            "`experiments/../../outside/shared.echo` is outside the project",
        ),
    ];
    if cfg!(unix) {
        cases.push((
            "notes.echo",
            "`experiments/notes.echo` is a link to a file that is not an `.echo` file",
        ));
    }
    for (used, expected) in cases {
        experiment(
            &layout,
            &format!("use \"{used}\"\n"),
            "jsonl(path = \"../data/problems.jsonl\")",
        );
        let (errors, output) = check_errors(&layout);
        assert_eq!(errors, vec![(1, 5, expected.to_string())], "{output}");
        let (ok, human) = echolab(&layout, &["check", "experiments/paths.echo"]);
        assert!(!ok);
        for text in [&output, &human] {
            assert!(!text.contains(SECRET), "{used}: {text}");
            assert!(!text.contains(&passwd_first_line), "{used}: {text}");
        }
    }
}

#[test]
fn a_file_named_on_the_command_line_that_is_not_echo_is_refused_unread() {
    let layout = layout();
    let notes = layout.root.join("experiments/notes.txt");
    std::fs::write(&notes, format!("{SECRET}\n")).unwrap();
    let notes = notes.to_str().unwrap();
    for arguments in [
        &["check", notes][..],
        &["run", notes],
        &["lock", notes],
        &["fmt", notes],
        &["check", "/etc/passwd"],
    ] {
        let (ok, output) = echolab(&layout, arguments);
        assert!(!ok, "{arguments:?}: {output}");
        assert!(
            output.contains("is not an `.echo` file"),
            "{arguments:?}: {output}"
        );
        assert!(!output.contains(SECRET), "{arguments:?}: {output}");
        assert!(!output.contains("root:"), "{arguments:?}: {output}");
    }
}

#[test]
fn the_opt_in_reads_outside_the_project_and_the_lockfile_records_it() {
    let layout = layout();
    let outside = layout.outside.join("problems.jsonl");
    experiment(
        &layout,
        "",
        "jsonl(path = \"../../outside/problems.jsonl\", outside_project = true)",
    );
    assert!(check_errors(&layout).0.is_empty());
    let (ok, output) = echolab(&layout, &["lock", "experiments/paths.echo"]);
    assert!(ok, "{output}");
    let lock = lockfile(&layout);
    let absolute = outside.to_str().unwrap();
    assert!(lock.contains(&format!("[inputs.\"{absolute}\"]")), "{lock}");
    assert!(lock.contains("outside_project = true"), "{lock}");
    // The folder of `gsm8k`, by its absolute path.
    experiment(
        &layout,
        "",
        &format!(
            "gsm8k(split = test, path = \"{}\", outside_project = true)",
            layout.outside.display()
        ),
    );
    let (ok, output) = echolab(&layout, &["lock", "experiments/paths.echo"]);
    assert!(ok, "{output}");
    let lock = lockfile(&layout);
    assert!(
        lock.contains(&format!(
            "[inputs.\"{}/test.jsonl\"]",
            layout.outside.display()
        )),
        "{lock}"
    );
    // Inside the project, `outside_project = false` is the same as leaving it out.
    let key_of = |source: &str| {
        let path = experiment(&layout, "", source);
        let compilation = echolab::compiler::compile_file(&path).unwrap();
        let plan =
            echolab::plan::build(&compilation.experiment.unwrap(), path.parent().unwrap()).unwrap();
        plan.named("file").unwrap().key.clone()
    };
    let plain = key_of("jsonl(path = \"../data/problems.jsonl\")");
    assert_eq!(
        key_of("jsonl(path = \"../data/problems.jsonl\", outside_project = false)"),
        plain
    );
    assert_ne!(
        key_of("jsonl(path = \"../data/problems.jsonl\", outside_project = true)"),
        plain
    );
}

#[cfg(unix)]
#[test]
fn the_data_stage_refuses_a_file_swapped_after_planning() {
    let layout = layout();
    let path = experiment(&layout, "", "jsonl(path = \"../data/problems.jsonl\")");
    let compilation = echolab::compiler::compile_file(&path).unwrap();
    let directory = path.parent().unwrap().to_path_buf();
    let plan = echolab::plan::build(&compilation.experiment.unwrap(), &directory).unwrap();
    let plan_path = layout.root.join(".echolab/plans/paths.json");
    echolab::runtime::PlanFile {
        experiment_directory: directory,
        plan,
    }
    .write(&plan_path)
    .unwrap();
    let plan_argument = plan_path.to_str().unwrap();
    let data = layout.root.join("data/problems.jsonl");
    // A link out of the project.
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink(layout.outside.join("problems.jsonl"), &data).unwrap();
    let (ok, output) = echolab(&layout, &["exec-stage", plan_argument, "file"]);
    assert!(!ok, "{output}");
    assert!(output.contains("is outside the project"), "{output}");
    // A FIFO: refused, not waited on.
    std::fs::remove_file(&data).unwrap();
    let name = std::ffi::CString::new(data.to_str().unwrap()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let (ok, output) = echolab(&layout, &["exec-stage", plan_argument, "file"]);
    assert!(!ok, "{output}");
    assert!(
        output.contains("it is a FIFO, not a regular file"),
        "{output}"
    );
    // The file back: the stage runs.
    std::fs::remove_file(&data).unwrap();
    std::fs::write(&data, PROBLEMS).unwrap();
    let (ok, output) = echolab(&layout, &["exec-stage", plan_argument, "file"]);
    assert!(ok, "{output}");
}

#[test]
fn a_missing_file_on_the_command_line_is_named_with_its_reason_once() {
    let layout = layout();
    for command in ["check", "run", "status", "lock"] {
        let (ok, output) = echolab(&layout, &[command, "experiments/nonexistent.echo"]);
        assert!(!ok, "{command}: {output}");
        assert!(
            output.contains("cannot read `experiments/nonexistent.echo`: "),
            "{command}: {output}"
        );
        assert_eq!(
            output.matches("(os error 2)").count(),
            1,
            "{command}: the reason once: {output}"
        );
    }
}
