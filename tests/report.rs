//! Reports on real computation: the charts and page of a fixed metrics
//! input (snapshot, determinism down to the PNG bytes), the smoke
//! experiment run end to end through the binary (`echolab run`, `report`,
//! `diff`), and the page as a browser shows it (when Chromium is installed).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use echolab::report::{
    render_page, render_png, render_svg, summary_rows, Chart, Figure, MetricRow, PageContent,
};
use resvg::{tiny_skia, usvg};

/// A small fixed input: two sweep points, two replicates, three steps.
fn fixed_rows() -> Vec<MetricRow> {
    let mut rows = Vec::new();
    let mut push =
        |point: &str, replicate: i64, step: u64, metric: &str, format: &str, value: Option<f64>| {
            rows.push(MetricRow {
                eval: "main".into(),
                model: "tuned".into(),
                point: point.into(),
                replicate,
                step,
                set: "held_out".into(),
                metric: metric.into(),
                format: format.into(),
                value,
            });
        };
    for (point, drift) in [("kl=constant(0)", 0.25), ("kl=constant(0.01)", 0.125)] {
        for replicate in 0..2 {
            let jitter = replicate as f64 * 0.0625;
            for (step, progress) in [(0u64, 0.0), (3, 0.5), (9, 1.0)] {
                let prose = 0.375 + drift * progress + jitter * progress;
                let code = (1.0 - prose) / 2.0;
                push(point, replicate, step, "pass@1", "", Some(0.125 * progress));
                push(
                    point,
                    replicate,
                    step,
                    "pass@4",
                    "",
                    Some(0.25 + 0.125 * progress),
                );
                push(point, replicate, step, "maj@4", "", Some(0.0625 + jitter));
                push(point, replicate, step, "format_share", "code", Some(code));
                push(
                    point,
                    replicate,
                    step,
                    "format_share",
                    "code_text",
                    Some(code),
                );
                push(point, replicate, step, "format_share", "prose", Some(prose));
                push(
                    point,
                    replicate,
                    step,
                    "format_accuracy",
                    "code",
                    Some(0.25),
                );
                push(point, replicate, step, "format_accuracy", "code_text", None);
                push(
                    point,
                    replicate,
                    step,
                    "format_accuracy",
                    "prose",
                    Some(0.125 + 0.0625 * progress),
                );
            }
        }
    }
    rows
}

/// Every chart of the rows, drawn.
fn charts(rows: &[MetricRow]) -> Vec<(Chart, String)> {
    Chart::ALL
        .into_iter()
        .filter_map(|chart| Figure::build(chart, rows))
        .map(|figure| (figure.chart, render_svg(&figure).unwrap()))
        .collect()
}

fn page(rows: &[MetricRow]) -> String {
    render_page(&PageContent {
        experiment: "fixed".into(),
        description: Some("A fixed input for the snapshot.".into()),
        charts: charts(rows),
        winners: Figure::winners(rows),
        summary: summary_rows(rows),
        evaluations: Vec::new(),
        run_table: true,
        missing: Vec::new(),
    })
}

/// How many distinct colours a PNG has, and its size.
fn png_colours(bytes: &[u8]) -> (usize, u32, u32) {
    let pixmap = tiny_skia::Pixmap::decode_png(bytes).expect("a PNG that decodes");
    let colours: BTreeSet<[u8; 4]> = pixmap
        .pixels()
        .iter()
        .map(|pixel| [pixel.red(), pixel.green(), pixel.blue(), pixel.alpha()])
        .collect();
    (colours.len(), pixmap.width(), pixmap.height())
}

/// An SVG that parses as XML and as SVG, with text drawn.
fn assert_valid_svg(svg: &str) {
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).expect("valid SVG");
    assert!(tree.size().width() > 100.0);
    assert!(svg.contains("<text"), "the chart has labels");
}

#[test]
fn the_page_of_a_fixed_input_matches_its_snapshot() {
    insta::assert_snapshot!("fixed_report_page", page(&fixed_rows()));
}

#[test]
fn two_renders_give_identical_bytes_png_included() {
    let rows = fixed_rows();
    let first = charts(&rows);
    let second = charts(&rows);
    assert_eq!(first.len(), 4, "every chart has data");
    for ((chart, svg), (_, again)) in first.iter().zip(&second) {
        assert_eq!(svg, again, "SVG of `{}`", chart.name());
        assert_valid_svg(svg);
        let png = render_png(svg, chart.name()).unwrap();
        assert_eq!(
            png,
            render_png(again, chart.name()).unwrap(),
            "PNG of `{}`",
            chart.name()
        );
        let (colours, width, height) = png_colours(&png);
        assert!(colours > 50, "`{}` has {colours} colours", chart.name());
        assert!(
            width >= 1000 && height >= 600,
            "`{}` is {width}x{height}",
            chart.name()
        );
    }
    assert_eq!(page(&rows), page(&rows));
}

#[test]
fn replicate_bands_are_drawn_only_where_replicates_disagree() {
    let rows = fixed_rows();
    let figure = Figure::build(Chart::FormatShare, &rows).unwrap();
    let prose = figure.panels[0]
        .series
        .iter()
        .find(|series| figure.legend[series.legend].label == "prose")
        .unwrap();
    let spreads: Vec<(f64, f64, f64)> = prose
        .points
        .iter()
        .map(|(_, spread)| (spread.minimum, spread.mean, spread.maximum))
        .collect();
    // Step 0 agrees; step 9 spans 0.625 to 0.6875.
    assert_eq!(spreads[0], (0.375, 0.375, 0.375));
    assert_eq!(spreads[2], (0.625, 0.65625, 0.6875));
    let svg = render_svg(&figure).unwrap();
    assert!(
        svg.contains("<polygon"),
        "a band for the disagreeing replicates"
    );
}

// ---- The smoke experiment, end to end through the binary ----

fn command(root: &Path, arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_echolab"));
    command
        .args(arguments)
        .current_dir(root)
        .env_remove("ECHOLAB_CACHE")
        .env("NO_COLOR", "1");
    command
}

fn run(root: &Path, arguments: &[&str]) -> (bool, String, String) {
    let output = command(root, arguments).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A throwaway project where the smoke experiment has run and its report
/// is published, made once per test binary.
fn smoke_project() -> &'static Path {
    static PROJECT: OnceLock<tempfile::TempDir> = OnceLock::new();
    PROJECT
        .get_or_init(|| {
            let directory = tempfile::tempdir().unwrap();
            let root = directory.path();
            std::fs::create_dir_all(root.join("lockfiles")).unwrap();
            std::fs::create_dir_all(root.join("experiments")).unwrap();
            std::fs::copy(
                "experiments/smoke.echo",
                root.join("experiments/smoke.echo"),
            )
            .unwrap();
            let (ok, _, stderr) = run(root, &["run", "experiments/smoke.echo", "--jobs", "2"]);
            assert!(ok, "{stderr}");
            let (ok, stdout, stderr) = run(root, &["report", "experiments/smoke.echo"]);
            assert!(ok, "{stdout}{stderr}");
            assert!(stdout.contains("reports/smoke/report.html"), "{stdout}");
            directory
        })
        .path()
}

/// The smoke report's cache entry.
fn smoke_report_entry(root: &Path) -> PathBuf {
    let lock = echolab::lockfile::Lockfile::read(&root.join("lockfiles/smoke.lock"))
        .unwrap()
        .unwrap();
    let key = &lock.stages["summary"].key;
    root.join(".echolab/cache/v1").join(key.to_string())
}

#[test]
fn the_smoke_report_has_every_chart_as_svg_and_png_and_a_page() {
    let root = smoke_project();
    let entry = smoke_report_entry(root);
    for chart in [
        "format_share",
        "accuracy",
        "format_accuracy",
        "winner",
        "training",
    ] {
        let svg = std::fs::read_to_string(entry.join(format!("{chart}.svg"))).unwrap();
        assert_valid_svg(&svg);
        let png = std::fs::read(entry.join(format!("{chart}.png"))).unwrap();
        let (colours, _, _) = png_colours(&png);
        assert!(colours > 20, "`{chart}.png` has {colours} colours");
        // The PNG is the SVG rasterised: the same bytes again from the SVG.
        assert_eq!(png, render_png(&svg, chart).unwrap());
    }
    // The training chart draws both RL stages' own metrics.
    let training = std::fs::read_to_string(entry.join("training.svg")).unwrap();
    for text in [
        "kl=constant(0)",
        "kl=constant(0.01)",
        "gradient norm",
        "entropy",
    ] {
        assert!(training.contains(text), "training.svg lacks `{text}`");
    }
    let cached = std::fs::read_to_string(entry.join("report.html")).unwrap();
    assert!(cached.contains("<h1>smoke</h1>"));
    assert_eq!(cached.matches("<svg").count(), 5, "every chart inline");
    assert!(!cached.contains("<script"), "no script");
    for fetch in [" src=", "<link", "@import", "url(", "@font-face"] {
        assert!(!cached.contains(fetch), "nothing fetched: found `{fetch}`");
    }
    assert!(!cached.contains(root.to_str().unwrap()), "no absolute path");
    assert!(cached.contains("<!-- echolab:run-table -->"));
    // `metrics.csv` holds every evaluation's rows.
    let csv = std::fs::read_to_string(entry.join("metrics.csv")).unwrap();
    let rows = echolab::report::read_csv(&csv, "metrics.csv").unwrap();
    let stages: BTreeSet<String> = rows.iter().map(MetricRow::group_label).collect();
    assert_eq!(
        stages.into_iter().collect::<Vec<_>>(),
        [
            "main:base",
            "main:tuned[kl=constant(0)]",
            "main:tuned[kl=constant(0.01)]"
        ]
    );
}

#[test]
fn the_published_report_adds_the_run_table_with_durations() {
    let root = smoke_project();
    let published = root.join("reports/smoke");
    let page = std::fs::read_to_string(published.join("report.html")).unwrap();
    assert!(
        !page.contains("<!-- echolab:run-table -->"),
        "the place is filled"
    );
    let plan = echolab::lockfile::Lockfile::read(&root.join("lockfiles/smoke.lock"))
        .unwrap()
        .unwrap();
    for (name, record) in &plan.stages {
        let escaped = name.replace('&', "&amp;");
        assert!(
            page.contains(&format!("<td>{escaped}</td>")),
            "stage `{name}` in the run table"
        );
        assert!(
            page.contains(&record.key.short().to_string()),
            "key of `{name}`"
        );
    }
    // Every stage was computed in this project, so every duration is known.
    assert!(!page.contains("not recorded"));
    assert!(page.contains(&format!(
        "{} stages; {} with a recorded duration",
        plan.stages.len(),
        plan.stages.len()
    )));
    for file in [
        "format_share.svg",
        "format_share.png",
        "winner.png",
        "metrics.csv",
    ] {
        assert!(published.join(file).is_file(), "`{file}` copied");
    }
    // The cached page is untouched: durations never enter the cache.
    let cached = std::fs::read_to_string(smoke_report_entry(root).join("report.html")).unwrap();
    assert!(!cached.contains("duration</th>"));
    // `--out` writes elsewhere.
    let (ok, stdout, stderr) = run(
        root,
        &["report", "experiments/smoke.echo", "--out", "elsewhere"],
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(root.join("elsewhere/report.html").is_file());
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_partial_report_draws_the_cached_evaluations_and_names_the_missing_ones() {
    let smoke = smoke_project();
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    for folder in ["experiments", "lockfiles", ".echolab/cache"] {
        copy_tree(&smoke.join(folder), &root.join(folder));
    }
    let lock = echolab::lockfile::Lockfile::read(&root.join("lockfiles/smoke.lock"))
        .unwrap()
        .unwrap();
    let entry_of = |root: &Path, stage: &str| {
        root.join(".echolab/cache/v1")
            .join(lock.stages[stage].key.to_string())
    };
    let missing = "main:tuned[kl=constant(0.01)]";
    std::fs::remove_dir_all(entry_of(root, "summary")).unwrap();
    std::fs::remove_dir_all(entry_of(root, missing)).unwrap();

    let (ok, _, stderr) = run(root, &["report", "experiments/smoke.echo"]);
    assert!(!ok && stderr.contains("--partial"), "{stderr}");
    let (ok, stdout, stderr) = run(root, &["report", "experiments/smoke.echo", "--partial"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("partial: 2 of 3 evaluations"), "{stdout}");
    let published = root.join("reports/smoke");
    let page = std::fs::read_to_string(published.join("report.html")).unwrap();
    assert!(page.contains("<b>Partial report.</b>"));
    assert!(page.contains(&format!("<code>{missing}</code>")));
    assert_eq!(page.matches("<svg").count(), 5, "every chart drawn");
    let csv = std::fs::read_to_string(published.join("metrics.csv")).unwrap();
    let rows = echolab::report::read_csv(&csv, "metrics.csv").unwrap();
    let stages: BTreeSet<String> = rows.iter().map(MetricRow::group_label).collect();
    assert_eq!(
        stages.into_iter().collect::<Vec<_>>(),
        ["main:base", "main:tuned[kl=constant(0)]"]
    );
    // Nothing partial is cached.
    assert!(!entry_of(root, "summary").exists());

    // With every evaluation back, the drawing is the report stage's, byte
    // for byte, and no longer says it is partial.
    copy_tree(&entry_of(smoke, missing), &entry_of(root, missing));
    let (ok, stdout, stderr) = run(
        root,
        &[
            "report",
            "experiments/smoke.echo",
            "--partial",
            "--out",
            "whole",
        ],
    );
    assert!(ok, "{stdout}{stderr}");
    let cached = entry_of(smoke, "summary");
    for file in [
        "metrics.csv",
        "format_share.svg",
        "format_share.png",
        "accuracy.svg",
        "winner.svg",
    ] {
        assert_eq!(
            std::fs::read(root.join("whole").join(file)).unwrap(),
            std::fs::read(cached.join(file)).unwrap(),
            "{file}"
        );
    }
    let page = std::fs::read_to_string(root.join("whole/report.html")).unwrap();
    assert!(!page.contains("Partial report"));
}

#[test]
fn diff_compares_two_sweep_points_value_by_value() {
    let root = smoke_project();
    let a = "experiments/smoke.echo:main:tuned[kl=constant(0)]";
    let b = "experiments/smoke.echo:main:tuned[kl=constant(0.01)]";
    let (ok, stdout, stderr) = run(root, &["diff", a, b]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with(&format!("A: {a}\nB: {b}\n")), "{stdout}");
    let header = stdout.lines().nth(2).unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["set", "metric", "format", "step", "A", "B", "B-A"]
    );
    let summary = stdout.lines().last().unwrap();
    assert!(summary.contains("values compared"), "{summary}");
    // Step 0 is the same pretrained model under either KL value.
    let (ok, json, _) = run(root, &["diff", a, b, "--format", "json"]);
    assert!(ok);
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let values = document["values"].as_array().unwrap();
    let at_step_zero: Vec<&serde_json::Value> =
        values.iter().filter(|value| value["step"] == 0).collect();
    assert!(!at_step_zero.is_empty());
    for value in at_step_zero {
        if value["a"].is_number() {
            assert_eq!(value["a"], value["b"], "{value}");
            assert_eq!(value["difference"], 0.0);
        }
    }
    let compared = document["summary"]["compared"].as_u64().unwrap();
    assert!(compared >= 20, "{compared}");
    // CSV: a header and one line per value.
    let (ok, csv, _) = run(root, &["diff", a, b, "--format", "csv"]);
    assert!(ok);
    assert_eq!(
        csv.lines().next(),
        Some("stage,set,metric,format,step,a,b,difference")
    );
    assert_eq!(csv.lines().count(), values.len() + 1);
}

#[test]
fn diff_of_a_run_with_itself_finds_no_difference_and_names_unknown_stages() {
    let root = smoke_project();
    let (ok, stdout, stderr) = run(
        root,
        &["diff", "experiments/smoke.echo", "experiments/smoke.echo"],
    );
    assert!(ok, "{stderr}");
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.ends_with("values compared, 0 differ; 0 only in A, 0 only in B"),
        "{summary}"
    );
    // A trained stage selects the evaluations of it.
    let (ok, stdout, _) = run(
        root,
        &[
            "diff",
            "experiments/smoke.echo:tuned",
            "experiments/smoke.echo",
        ],
    );
    assert!(ok);
    assert!(
        stdout.lines().nth(2).unwrap().starts_with("stage"),
        "matched stage by stage"
    );
    let (ok, _, stderr) = run(
        root,
        &[
            "diff",
            "experiments/smoke.echo:nothing",
            "experiments/smoke.echo",
        ],
    );
    assert!(!ok);
    assert!(
        stderr.contains("has no stage `nothing`; its evaluations are: main:base"),
        "{stderr}"
    );
}

#[test]
fn a_browser_shows_the_published_page_with_its_charts() {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        println!("skipped: no chromium");
        return;
    }
    let root = smoke_project();
    let page = root.join("reports/smoke/report.html");
    let profile = tempfile::tempdir().unwrap();
    let screenshot = root.join("screenshot.png");
    let url = format!("file://{}", page.display());
    let arguments = |extra: &[String]| -> Vec<String> {
        let mut all: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .map(str::to_string)
        .to_vec();
        all.push(format!("--user-data-dir={}", profile.path().display()));
        all.extend_from_slice(extra);
        all.push(url.clone());
        all
    };
    let output = Command::new(chromium)
        .args(arguments(&[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,2000".to_string(),
        ]))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let png = std::fs::read(&screenshot).unwrap();
    let (colours, width, height) = png_colours(&png);
    assert_eq!((width, height), (1280, 2000));
    assert!(
        colours > 100,
        "the screenshot has {colours} colours: blank?"
    );
    if let Ok(keep) = std::env::var("ECHOLAB_KEEP_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }
    let output = Command::new(chromium)
        .args(arguments(&["--dump-dom".to_string()]))
        .output()
        .unwrap();
    assert!(output.status.success());
    let dom = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        dom.matches("<svg").count(),
        5,
        "the five charts are in the DOM"
    );
    assert!(
        dom.contains("<table class=\"stages\">"),
        "the run table is in the DOM"
    );
}

#[test]
fn the_run_table_names_the_checkout_it_was_reported_from_beside_the_lockfiles_commit() {
    // A clean clone whose committed lockfile was recorded at another
    // commit (its authors'), with the outputs in the cache.
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    std::fs::create_dir_all(root.join("experiments")).unwrap();
    std::fs::create_dir_all(root.join("lockfiles")).unwrap();
    std::fs::copy(
        "experiments/smoke.echo",
        root.join("experiments/smoke.echo"),
    )
    .unwrap();
    std::fs::write(root.join(".gitignore"), ".echolab/\nreports/\n").unwrap();
    let (ok, _, stderr) = run(root, &["run", "experiments/smoke.echo", "--jobs", "2"]);
    assert!(ok, "{stderr}");
    let authors = "0123456789abcdef0123456789abcdef01234567";
    let lockfile = root.join("lockfiles/smoke.lock");
    let mut shipped: toml::Table =
        toml::from_str(&std::fs::read_to_string(&lockfile).unwrap()).unwrap();
    let provenance = shipped["provenance"].as_table_mut().unwrap();
    provenance.insert("commit".into(), authors.into());
    provenance.insert("dirty".into(), true.into());
    std::fs::write(&lockfile, toml::to_string(&shipped).unwrap()).unwrap();
    let repository = git2::Repository::init(root).unwrap();
    let mut index = repository.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repository.find_tree(index.write_tree().unwrap()).unwrap();
    let signature = git2::Signature::now("test", "test@example.com").unwrap();
    let checkout = repository
        .commit(Some("HEAD"), &signature, &signature, "clone", &tree, &[])
        .unwrap()
        .to_string();

    // A rerun finds everything cached and leaves the lockfile as shipped.
    let (ok, _, stderr) = run(root, &["run", "experiments/smoke.echo"]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = run(root, &["report", "experiments/smoke.echo"]);
    assert!(ok, "{stdout}{stderr}");
    let page = std::fs::read_to_string(root.join("reports/smoke/report.html")).unwrap();
    assert!(
        page.contains(&format!(
            "lockfile recorded at commit: <code>{authors} (dirty)</code>"
        )),
        "the lockfile's commit"
    );
    assert!(
        page.contains(&format!("reported from checkout: <code>{checkout}</code>")),
        "the clean checkout that ran and reported"
    );
}
