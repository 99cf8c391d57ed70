//! A stage's bytes depend on its inputs only, not on the machine: the smoke
//! experiment reproduces its committed lockfile (`run --frozen`) under
//! imitated CPU cache descriptions, a smaller experiment
//! (`tests/same_bytes/micro.echo`) reproduces its own on an emulated
//! AVX2-only processor, and the kernels' products give the same bits
//! whatever caches the matrix-product crate reads and on that processor.
//!
//! The caches are imitated as gemm reads them: as root, in a private mount
//! namespace (`unshare -m`), a folder shaped like `/sys/devices/system/cpu`
//! is bound over the real one for one child process. Where that cannot be
//! done (not root, no `unshare`, no `qemu-x86_64`) a test says why and
//! skips; `.ci/run` runs as root and installs `qemu-user`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::{Device, Tensor, Var};

/// One cache of an imitated processor: level, type, size, ways and the
/// CPUs sharing it, as `/sys/devices/system/cpu/cpu0/cache/indexN` says.
type Cache = (u32, &'static str, &'static str, u32, &'static str);

/// A processor as gemm sees it in `/sys/devices/system/cpu`.
struct Machine {
    name: &'static str,
    caches: &'static [Cache],
    /// A cache folder that cannot be read, so that gemm falls back to
    /// `lscpu` (which fails here too) and then to `cpuid`.
    unreadable: bool,
}

/// The project's machine (AMD EPYC): a 32 KiB 8-way L1, gemm's own default.
const PROJECT_MACHINE: Machine = Machine {
    name: "32 KiB 8-way L1 (the project's AMD EPYC)",
    caches: &[
        (1, "Data", "32K", 8, "0"),
        (1, "Instruction", "32K", 8, "0"),
        (2, "Unified", "1024K", 8, "0"),
        (3, "Unified", "32768K", 16, "0-1"),
    ],
    unreadable: false,
};

/// An Intel Xeon with a 48 KiB 12-way L1: gemm blocks `k` by 1,024.
const XEON: Machine = Machine {
    name: "48 KiB 12-way L1 (Intel Xeon)",
    caches: &[
        (1, "Data", "48K", 12, "0"),
        (1, "Instruction", "32K", 8, "0"),
        (2, "Unified", "2048K", 16, "0"),
        (3, "Unified", "107520K", 15, "0-1"),
    ],
    unreadable: false,
};

/// A 128 KiB L1 as Apple's and large Arm cores have.
const LARGE_L1: Machine = Machine {
    name: "128 KiB 8-way L1, 16 MiB shared L2 (Apple-like)",
    caches: &[
        (1, "Data", "128K", 8, "0"),
        (1, "Instruction", "192K", 6, "0"),
        (2, "Unified", "16384K", 16, "0-1"),
    ],
    unreadable: false,
};

/// CPU folders without `cache` folders: gemm takes its defaults.
const NO_CACHE_FOLDERS: Machine = Machine {
    name: "no cache folders",
    caches: &[],
    unreadable: false,
};

/// Cache folders that cannot be read: gemm asks `cpuid`.
const CPUID: Machine = Machine {
    name: "unreadable cache folders (gemm asks cpuid)",
    caches: &[],
    unreadable: true,
};

const MACHINES: [&Machine; 5] = [
    &PROJECT_MACHINE,
    &XEON,
    &LARGE_L1,
    &NO_CACHE_FOLDERS,
    &CPUID,
];

/// A folder to bind over `/sys/devices/system/cpu` that describes `machine`.
fn imitated_cpu_folder(machine: &Machine) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    let cpu = folder.path().join("cpu0");
    std::fs::create_dir_all(&cpu).unwrap();
    for (index, (level, kind, size, ways, shared)) in machine.caches.iter().enumerate() {
        let cache = cpu.join("cache").join(format!("index{index}"));
        std::fs::create_dir_all(&cache).unwrap();
        for (file, value) in [
            ("level", level.to_string()),
            ("type", kind.to_string()),
            ("size", size.to_string()),
            ("ways_of_associativity", ways.to_string()),
            ("coherency_line_size", "64".to_string()),
            ("shared_cpu_list", shared.to_string()),
        ] {
            std::fs::write(cache.join(file), format!("{value}\n")).unwrap();
        }
    }
    if machine.unreadable {
        let cache = cpu.join("cache").join("index0");
        std::fs::create_dir_all(cache.join("size")).unwrap();
        std::fs::write(cache.join("level"), "1\n").unwrap();
    }
    folder
}

/// Why caches cannot be imitated here, if they cannot.
fn imitation_unavailable() -> Option<String> {
    match Command::new("unshare")
        .args(["-m", "sh", "-c", "mount --bind /tmp /mnt"])
        .output()
    {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!(
            "`unshare -m` with a bind mount failed (root is needed): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => Some(format!("no `unshare`: {error}")),
    }
}

/// Runs `program arguments` in `directory` with `machine`'s caches bound
/// over `/sys/devices/system/cpu`.
fn run_imitating(
    machine: &Machine,
    directory: &Path,
    program: &Path,
    arguments: &[&str],
) -> Output {
    let folder = imitated_cpu_folder(machine);
    Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount --bind \"$0\" /sys/devices/system/cpu && exec \"$@\"",
        ])
        .arg(folder.path())
        .arg(program)
        .args(arguments)
        .current_dir(directory)
        .env_remove("ECHOLAB_CACHE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A throwaway project with the experiment `source` and its committed
/// lockfile `lockfile`.
fn project_with(source: &str, lockfile: &str) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    for (folder, file) in [("experiments", source), ("lockfiles", lockfile)] {
        let copy = directory.path().join(folder);
        std::fs::create_dir_all(&copy).unwrap();
        let name = Path::new(file).file_name().unwrap();
        std::fs::copy(file, copy.join(name)).unwrap();
    }
    directory
}

/// A throwaway project with the smoke experiment and its committed
/// lockfile.
fn smoke_project() -> tempfile::TempDir {
    project_with("experiments/smoke.echo", "lockfiles/smoke.lock")
}

const FROZEN_SMOKE: [&str; 5] = [
    "run",
    "experiments/smoke.echo",
    "--frozen",
    "--cache",
    "cache",
];

#[test]
fn the_smoke_experiment_reproduces_its_lockfile_under_every_cache_description() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_echolab"));
    let project = smoke_project();
    let here = Command::new(&binary)
        .args(FROZEN_SMOKE)
        .current_dir(project.path())
        .env_remove("ECHOLAB_CACHE")
        .output()
        .unwrap();
    assert!(here.status.success(), "on this machine:\n{}", text(&here));
    if let Some(reason) = imitation_unavailable() {
        eprintln!("skipping the imitated machines: {reason}");
        return;
    }
    for machine in MACHINES {
        let project = smoke_project();
        let output = run_imitating(machine, project.path(), &binary, &FROZEN_SMOKE);
        assert!(
            output.status.success(),
            "with {}:\n{}",
            machine.name,
            text(&output)
        );
        assert!(text(&output).contains("13 ran, 0 cached, 0 failed"));
    }
}

/// Values from a fixed sequence over several binades, as a tensor.
fn filled(shape: &[usize], seed: u64) -> Tensor {
    let count: usize = shape.iter().product();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let values: Vec<f32> = (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            unit * [1.0, 3.0e-3, 7.0e2][(state % 3) as usize]
        })
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

fn digest(tensor: &Tensor) -> String {
    let values: Vec<f32> = tensor.flatten_all().unwrap().to_vec1().unwrap();
    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect();
    blake3::hash(&bytes).to_hex()[..16].to_string()
}

/// Lines `KERNEL SHAPE DIGEST` for the forward and backward passes of the
/// fused linear layer and the fused attention, at sizes whose inner
/// dimensions cross every blocking boundary (512, 1,024, 4,096, odd sizes),
/// and one line for a plain gemm product that gemm blocks by the caches.
fn kernel_digests() -> Vec<String> {
    let mut lines = Vec::new();
    // (rows, inputs, outputs): the forward sums over inputs, the input
    // gradient over outputs, the weight gradient over rows.
    for (index, &(rows, inputs, outputs)) in [
        (600, 513, 100),
        (4097, 80, 70),
        (70, 1025, 520),
        (130, 4096, 66),
        (96, 511, 4097),
    ]
    .iter()
    .enumerate()
    {
        let seed = 10 * index as u64;
        let input = Var::from_tensor(&filled(&[rows, inputs], seed)).unwrap();
        let weight = Var::from_tensor(&filled(&[outputs, inputs], seed + 1)).unwrap();
        let bias = Var::from_tensor(&filled(&[outputs], seed + 2)).unwrap();
        let output = echolab::model::kernels::linear(&input, &weight, Some(&bias)).unwrap();
        let upstream = filled(&[rows, outputs], seed + 3);
        let gradients = (&output * &upstream)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let shape = format!("{rows}x{inputs}x{outputs}");
        lines.push(format!("linear {shape} forward {}", digest(&output)));
        for (name, var) in [("input", &input), ("weight", &weight), ("bias", &bias)] {
            let gradient = gradients.get(var).expect("every operand gets a gradient");
            lines.push(format!(
                "linear {shape} {name} gradient {}",
                digest(gradient)
            ));
        }
    }
    // (batch, time, width, heads): products sum over the time (up to 600)
    // and over the head width; the `small` preset's shape, whose causal
    // products skip their zeros on the wide kernel (one summation block).
    for &(batch, time, width, heads) in &[
        (1, 600, 80, 2),
        (2, 520, 64, 1),
        (1, 70, 1040, 1),
        (2, 192, 128, 4),
    ] {
        let qkv = Var::from_tensor(&filled(&[batch, time, 3 * width], time as u64)).unwrap();
        let output = echolab::model::kernels::causal_attention(&qkv, heads, 0.125).unwrap();
        let upstream = filled(&[batch, time, width], 1 + time as u64);
        let gradients = (&output * &upstream)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let shape = format!("{batch}x{time}x{width}/{heads}");
        lines.push(format!("attention {shape} forward {}", digest(&output)));
        let gradient = gradients.get(&qkv).expect("qkv gets a gradient");
        lines.push(format!(
            "attention {shape} qkv gradient {}",
            digest(gradient)
        ));
    }
    lines
}

/// A product that gemm itself blocks by the cache description: its digest
/// differs between machines, which shows that an imitation takes effect.
fn plain_gemm_digest() -> String {
    let left = filled(&[128, 4096], 1);
    let right = filled(&[4096, 128], 2);
    format!(
        "plain gemm 128x4096x128 {}",
        digest(&left.matmul(&right).unwrap())
    )
}

/// Run by the next test as a child process under an imitated machine.
#[test]
#[ignore = "a child of `kernels_give_the_same_bits_under_every_cache_description`"]
fn kernel_digests_child() {
    for line in kernel_digests() {
        println!("DIGEST {line}");
    }
    println!("GEMM {}", plain_gemm_digest());
}

#[test]
fn kernels_give_the_same_bits_under_every_cache_description() {
    let here = kernel_digests();
    if let Some(reason) = imitation_unavailable() {
        eprintln!("skipping the imitated machines: {reason}");
        return;
    }
    let test_binary = std::env::current_exe().unwrap();
    let child = |machine: &Machine| -> (Vec<String>, String) {
        let output = run_imitating(
            machine,
            Path::new("."),
            &test_binary,
            &[
                "--ignored",
                "--exact",
                "kernel_digests_child",
                "--nocapture",
            ],
        );
        let printed = text(&output);
        assert!(output.status.success(), "with {}:\n{printed}", machine.name);
        let digests = printed
            .lines()
            .filter_map(|line| line.strip_prefix("DIGEST "))
            .map(str::to_string)
            .collect();
        let gemm = printed
            .lines()
            .find_map(|line| line.strip_prefix("GEMM "))
            .unwrap_or_default()
            .to_string();
        (digests, gemm)
    };
    let (project_digests, project_gemm) = child(&PROJECT_MACHINE);
    let (xeon_digests, xeon_gemm) = child(&XEON);
    let (large_digests, _) = child(&LARGE_L1);
    assert_ne!(
        project_gemm, xeon_gemm,
        "the imitated caches should change how gemm itself blocks a product"
    );
    assert_eq!(project_digests, here);
    assert_eq!(xeon_digests, here);
    assert_eq!(large_digests, here);
}

/// The Haswell model `qemu-x86_64` knows (AVX2 and FMA, no AVX-512), or why
/// it cannot be had.
fn emulated_haswell() -> Result<&'static str, String> {
    if !cfg!(target_arch = "x86_64") {
        return Err("qemu-x86_64 emulates x86-64 and this is not an x86-64 build".into());
    }
    // `-cpu help` lists the models (and exits 1 on some versions).
    let listed = Command::new("qemu-x86_64")
        .args(["-cpu", "help"])
        .output()
        .map_err(|_| "no `qemu-x86_64` (Debian's qemu-user; .ci/run installs it)".to_string())?;
    let models = text(&listed);
    // `-v4` has no TSX, which qemu's emulator lacks.
    ["Haswell-v4", "Haswell-noTSX", "Haswell"]
        .into_iter()
        .find(|model| models.split_whitespace().any(|word| word == *model))
        .ok_or_else(|| "qemu-x86_64 knows no Haswell model".to_string())
}

#[test]
fn the_whole_pipeline_reproduces_its_lockfile_on_an_emulated_avx2_processor() {
    let project = project_with(
        "tests/same_bytes/micro.echo",
        "tests/same_bytes/lockfiles/micro.lock",
    );
    let binary = env!("CARGO_BIN_EXE_echolab");
    let frozen = ["run", "experiments/micro.echo", "--frozen", "--cache"];
    let here = Command::new(binary)
        .args(frozen)
        .arg("native")
        .current_dir(project.path())
        .env_remove("ECHOLAB_CACHE")
        .output()
        .unwrap();
    assert!(
        here.status.success(),
        "on this machine (after a deliberate change of the numerics, with a \
         semantics bump, relock with `echolab run tests/same_bytes/micro.echo`):\n{}",
        text(&here)
    );
    let model = match emulated_haswell() {
        Ok(model) => model,
        Err(reason) => {
            eprintln!("skipping the emulated processor: {reason}");
            return;
        }
    };
    let output = Command::new("qemu-x86_64")
        .args(["-cpu", model, binary])
        .args(frozen)
        .arg("emulated")
        .current_dir(project.path())
        .env_remove("ECHOLAB_CACHE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "under qemu -cpu {model}:\n{}",
        text(&output)
    );
    assert!(text(&output).contains("9 ran, 0 cached, 0 failed"));
}

#[test]
fn kernels_give_the_same_bits_on_an_emulated_avx2_processor() {
    let model = match emulated_haswell() {
        Ok(model) => model,
        Err(reason) => {
            eprintln!("skipping: {reason}");
            return;
        }
    };
    let output = Command::new("qemu-x86_64")
        .args(["-cpu", model])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "kernel_digests_child",
            "--nocapture",
        ])
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    let printed = text(&output);
    assert!(
        output.status.success(),
        "under qemu -cpu {model}:\n{printed}"
    );
    let emulated: Vec<String> = printed
        .lines()
        .filter_map(|line| line.strip_prefix("DIGEST "))
        .map(str::to_string)
        .collect();
    assert_eq!(emulated, kernel_digests(), "under qemu -cpu {model}");
}
