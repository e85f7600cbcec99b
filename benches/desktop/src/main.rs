//! The desktop figures of `scripts/bench`, taken on a private desktop (Xvfb, a D-Bus session
//! bus with an unlocked gnome-keyring, a fresh HOME), with the app and the bare Tauri window
//! launched alternately:
//!
//! - cold start: process spawn until the window's first paint, read straight from Xvfb's
//!   framebuffer (`-fbdir`): the first frame whose pixels show more than a flat window (more
//!   than 16 colours: the page's text is drawn). Polled every 2 ms, without asking the app.
//! - idle memory: 3 s after the first paint, VmRSS of the main process and of it plus its
//!   descendants (WebKit's web and network processes), and their summed PSS.
//! - deep-link hand-off: with the app running, the program that the app's desktop entry runs
//!   for a link (its `Exec`: the link program) is started with a callback URL, as the desktop
//!   would start it; from its spawn until the app logged that it finished handling the link
//!   (the log's own timestamps), and the program's own lifetime (spawn to exit, checking that
//!   no second window appeared). The same through a second instance of the app (its hand-off
//!   and its lifetime), and through `xdg-open`, the path a browser takes.
//!
//! It prints `FIGURE<TAB>key<TAB>median<TAB>min<TAB>max<TAB>unit` lines (and progress on
//! stderr). Usage:
//! `desktop-bench --app BIN --bare BIN --mock-okta BIN [--runs N] [--variant KEY=BIN]...`
//! (`--variant`: another program launched in the same rotation, for cold start and memory)

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use desktop_testkit::{report, wait_for_every, Desktop, IDENTIFIER};

/// A safety net against hangs, not a speed check.
const LIMIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(2);
/// A mapped window that has not drawn its page is one or two flat colours; text brings many.
const PAINTED_COLOURS: usize = 16;
const IDLE: Duration = Duration::from_secs(3);

struct Options {
    app: PathBuf,
    bare: PathBuf,
    mock_okta: PathBuf,
    runs: usize,
    /// Further programs launched in the same rotation for their cold start and memory only
    /// (variants of the bare window that add one app feature at a time, and the app's demo
    /// build).
    variants: Vec<(String, PathBuf)>,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let (mut app, mut bare, mut mock_okta, mut runs) = (None, None, None, 7);
    let mut variants = Vec::new();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--app" => app = Some(absolute(&value())),
            "--bare" => bare = Some(absolute(&value())),
            "--mock-okta" => mock_okta = Some(absolute(&value())),
            "--runs" => runs = value().parse().unwrap_or_else(|_| usage("--runs N")),
            "--variant" => {
                let value = value();
                let (key, binary) = value
                    .split_once('=')
                    .unwrap_or_else(|| usage("--variant KEY=BIN"));
                variants.push((key.to_owned(), absolute(binary)));
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    Options {
        app: app.unwrap_or_else(|| usage("--app is required")),
        bare: bare.unwrap_or_else(|| usage("--bare is required")),
        mock_okta: mock_okta.unwrap_or_else(|| usage("--mock-okta is required")),
        runs,
        variants,
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("desktop-bench: {problem}\nusage: desktop-bench --app BIN --bare BIN --mock-okta BIN [--runs N] [--variant KEY=BIN]...");
    std::process::exit(2)
}

fn absolute(path: &str) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|error| usage(&format!("{path}: {error}")))
}

/// Polls `probe` every [`POLL`] until it yields a value; panics naming `what` after [`LIMIT`].
fn wait_for<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    wait_for_every(POLL, what, LIMIT, probe)
}

/// How many distinct colours the screen shows, counting up to `PAINTED_COLOURS + 1`.
fn colours(desktop: &Desktop, screen: &mut Screen) -> usize {
    screen.read(desktop.framebuffer().expect("a desktop with a framebuffer"));
    screen.distinct_colours(PAINTED_COLOURS + 1)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Xvfb's framebuffer file (XWD format) and a buffer for its pixels.
#[derive(Default)]
struct Screen {
    bytes: Vec<u8>,
    pixels_at: usize,
    width: usize,
    height: usize,
    bytes_per_line: usize,
}

impl Screen {
    fn read(&mut self, path: &Path) {
        let mut file = File::open(path).expect("Xvfb's framebuffer file");
        if self.bytes.is_empty() {
            let mut header = [0u8; 100];
            file.read_exact(&mut header).unwrap();
            let field = |index: usize| {
                u32::from_be_bytes(header[index * 4..index * 4 + 4].try_into().unwrap()) as usize
            };
            assert_eq!(field(11), 32, "a 32-bit framebuffer");
            let (header_size, colours) = (field(0), field(19));
            self.pixels_at = header_size + colours * 12;
            self.width = field(4);
            self.height = field(5);
            self.bytes_per_line = field(12);
            self.bytes = vec![0; self.bytes_per_line * self.height];
        }
        file.seek(SeekFrom::Start(self.pixels_at as u64)).unwrap();
        file.read_exact(&mut self.bytes).unwrap();
    }

    /// Distinct pixel values on every other line, stopping at `enough`.
    fn distinct_colours(&self, enough: usize) -> usize {
        let mut seen: Vec<u32> = Vec::with_capacity(enough);
        for row in (0..self.height).step_by(2) {
            let line = &self.bytes[row * self.bytes_per_line..][..self.width * 4];
            let mut previous = None;
            for pixel in line.chunks_exact(4) {
                let pixel = u32::from_ne_bytes(pixel.try_into().unwrap()) & 0x00ff_ffff;
                if previous == Some(pixel) {
                    continue;
                }
                previous = Some(pixel);
                if !seen.contains(&pixel) {
                    seen.push(pixel);
                    if seen.len() >= enough {
                        return seen.len();
                    }
                }
            }
        }
        seen.len()
    }
}

/// One program to launch, with its extra environment.
struct Subject {
    key: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
}

/// What one launch measured.
struct Launch {
    first_paint: Duration,
    rss_total_kb: u64,
    rss_main_kb: u64,
    pss_total_kb: u64,
}

/// The process and its descendants, by walking /proc.
fn process_tree(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The command name is in parentheses and may hold spaces: parse after it.
            let after_name = &stat[stat.rfind(')')? + 2..];
            let parent = after_name.split(' ').nth(1)?.parse().ok()?;
            Some((pid, parent))
        })
        .collect();
    let mut tree = vec![root];
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        tree.extend(
            parents
                .iter()
                .filter(|(_, of)| *of == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    tree
}

/// A `Name:   1234 kB` field of a /proc file, in kB.
fn proc_kb(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn terminate(child: &mut Child) {
    let tree = process_tree(child.id());
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    // WebKit's helpers end with their parent; wait so the next launch starts alone.
    wait_for("the helper processes to end", || {
        tree.iter()
            .all(|pid| !Path::new(&format!("/proc/{pid}")).exists())
            .then_some(())
    });
}

/// Launches `subject` on an empty screen, waits for its first paint and, after [`IDLE`],
/// takes its memory; then stops it.
fn launch(desktop: &Desktop, screen: &mut Screen, subject: &Subject) -> Launch {
    wait_for("an empty screen", || {
        (colours(desktop, screen) <= 1).then_some(())
    });
    let start = Instant::now();
    let mut child = desktop
        .command(&subject.binary)
        .envs(subject.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("start {}: {error}", subject.binary.display()));
    let first_paint = wait_for(&format!("{}'s first paint", subject.key), || {
        (colours(desktop, screen) > PAINTED_COLOURS).then(|| start.elapsed())
    });
    std::thread::sleep(IDLE);
    let tree = process_tree(child.id());
    let launch = Launch {
        first_paint,
        rss_main_kb: proc_kb(&format!("/proc/{}/status", child.id()), "VmRSS:"),
        rss_total_kb: tree
            .iter()
            .map(|pid| proc_kb(&format!("/proc/{pid}/status"), "VmRSS:"))
            .sum(),
        pss_total_kb: tree
            .iter()
            .map(|pid| proc_kb(&format!("/proc/{pid}/smaps_rollup"), "Pss:"))
            .sum(),
    };
    terminate(&mut child);
    launch
}

/// Seconds since the epoch of a log line's RFC 3339 UTC timestamp (`2025-06-01T10:00:00.123456Z`).
fn log_timestamp(line: &str) -> Option<f64> {
    let stamp = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut date = date.split('-').map(|part| part.parse::<i64>());
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let mut time = time.split(':');
    let (hour, minute): (i64, i64) = (time.next()?.parse().ok()?, time.next()?.parse().ok()?);
    let second: f64 = time.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some((days * 86_400 + hour * 3600 + minute * 60) as f64 + second)
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// When the first instance finished handling the link with `state`: the first line after its
/// "deep link received" that says the core took or ignored it.
fn handled_at(desktop: &Desktop, state: &str) -> f64 {
    wait_for("the first instance to handle the link", || {
        let log = desktop.app_log();
        let mut lines = log
            .lines()
            .skip_while(|line| !(line.contains("deep link received") && line.contains(state)));
        lines.next()?;
        let done = lines.find(|line| {
            line.contains("deep link ignored") || line.contains("callback accepted")
        })?;
        Some(log_timestamp(done).expect("a log timestamp"))
    })
}

/// Hands `runs` callback links to the running app: through the program that the app's desktop
/// entry runs (the link program), through a second instance of the app, and through xdg-open.
fn hand_offs(desktop: &Desktop, app: &Subject, runs: usize) {
    let registered = |log: String| log.matches("deep-link handler registered").count();
    let earlier = registered(desktop.app_log());
    let mut first = desktop
        .command(&app.binary)
        .envs(app.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the app");
    wait_for("the deep-link handler", || {
        (registered(desktop.app_log()) > earlier).then_some(())
    });
    wait_for("the app's window", || {
        (desktop.app_window_count() == 1).then_some(())
    });
    let entry_program = desktop.link_entry_program();
    // Spawns `program url` and waits for it; returns (spawn → handled, spawn → exit) in ms.
    // The link program says on stderr when it falls back to starting the app, which would
    // time the slow path: anything on stderr stops the bench.
    let hand_off_with = |program: &Path, run: usize| {
        let state = format!("bench-{}-{run}", std::process::id());
        let url = format!("{IDENTIFIER}:/logout/callback?state={state}");
        let spawned_at = now_seconds();
        let start = Instant::now();
        let output = desktop
            .command(program)
            .envs(app.env.iter().map(|(name, value)| (name, value)))
            .arg(&url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|error| panic!("start {}: {error}", program.display()));
        let exited = start.elapsed();
        assert!(
            output.status.success(),
            "{} failed: {}",
            program.display(),
            output.status
        );
        if program == entry_program {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.is_empty(), "the link program fell back: {stderr}");
        }
        let handled = handled_at(desktop, &state);
        assert_eq!(desktop.app_window_count(), 1, "a second window appeared");
        ((handled - spawned_at) * 1e3, millis(exited))
    };
    let (mut hand_off, mut lifetime, mut app_instance, mut app_instance_lifetime, mut via_xdg_open) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs + 1 {
        let (entry_hand_off, entry_lifetime) = hand_off_with(&entry_program, 3 * run);
        let (instance_hand_off, instance_lifetime) = hand_off_with(&app.binary, 3 * run + 1);
        let (xdg_open_hand_off, _) = hand_off_with(Path::new("xdg-open"), 3 * run + 2);
        if run > 0 {
            hand_off.push(entry_hand_off);
            lifetime.push(entry_lifetime);
            app_instance.push(instance_hand_off);
            app_instance_lifetime.push(instance_lifetime);
            via_xdg_open.push(xdg_open_hand_off);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    terminate(&mut first);
    report("hand_off", "ms", &mut hand_off);
    report("hand_off.link_program_lifetime", "ms", &mut lifetime);
    report("hand_off.app_instance", "ms", &mut app_instance);
    report(
        "hand_off.app_instance_lifetime",
        "ms",
        &mut app_instance_lifetime,
    );
    report("hand_off.via_xdg_open", "ms", &mut via_xdg_open);
}

/// Starts the mock-okta binary that the configured app signs in with; returns its issuer.
fn start_mock_okta(binary: &Path, ca_path: &Path) -> (Child, String) {
    let mut child = Command::new(binary)
        .args(["--port", "0", "--ca-cert-out"])
        .arg(ca_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()));
    // Read all it prints (issuer first, admin URL last): a closed pipe would stop it.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let issuer = lines.next().expect("mock-okta's issuer").unwrap();
    for line in lines {
        if line.unwrap().starts_with("admin:") {
            break;
        }
    }
    (child, issuer)
}

fn main() {
    let options = options();
    let desktop = Desktop::with_framebuffer(&options.app);
    let ca_path = desktop.home().join("mock-okta-ca.pem");
    let (mut mock_okta, issuer) = start_mock_okta(&options.mock_okta, &ca_path);
    let configured = vec![
        ("OKTA_SIGNOUT_ISSUER".to_owned(), issuer),
        (
            "OKTA_SIGNOUT_CLIENT_ID".to_owned(),
            "okta-signout-demo".to_owned(),
        ),
        (
            "OKTA_SIGNOUT_CA_FILE".to_owned(),
            ca_path.display().to_string(),
        ),
    ];
    let mut subjects = vec![
        Subject {
            key: "bare".to_owned(),
            binary: options.bare.clone(),
            env: Vec::new(),
        },
        Subject {
            key: "app".to_owned(),
            binary: options.app.clone(),
            env: configured,
        },
    ];
    subjects.extend(options.variants.iter().map(|(key, binary)| Subject {
        key: key.clone(),
        binary: binary.clone(),
        env: Vec::new(),
    }));
    let mut screen = Screen::default();
    let mut launches: Vec<Vec<Launch>> = subjects.iter().map(|_| Vec::new()).collect();
    // One warm-up launch each (first start in a fresh HOME, cold page cache), then alternately.
    for run in 0..options.runs + 1 {
        for (index, subject) in subjects.iter().enumerate() {
            let launch = launch(&desktop, &mut screen, subject);
            eprintln!(
                "run {run} {}: first paint {:.0} ms, RSS {} MB",
                subject.key,
                millis(launch.first_paint),
                launch.rss_total_kb / 1024
            );
            if run > 0 {
                launches[index].push(launch);
            }
        }
    }
    for (subject, launches) in subjects.iter().zip(&launches) {
        let figure = |name: &str, unit: &str, value: &dyn Fn(&Launch) -> f64| {
            let mut samples: Vec<f64> = launches.iter().map(value).collect();
            report(&format!("{name}.{}", subject.key), unit, &mut samples);
        };
        figure("cold_start", "ms", &|launch| millis(launch.first_paint));
        figure("idle_rss_total", "MB", &|launch| {
            launch.rss_total_kb as f64 / 1024.0
        });
        figure("idle_rss_main", "MB", &|launch| {
            launch.rss_main_kb as f64 / 1024.0
        });
        figure("idle_pss_total", "MB", &|launch| {
            launch.pss_total_kb as f64 / 1024.0
        });
    }
    hand_offs(&desktop, &subjects[1], options.runs * 2);
    let _ = mock_okta.kill();
    let _ = mock_okta.wait();
}
