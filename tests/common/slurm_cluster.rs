//! A throw-away single-node Slurm for tests: munged, slurmctld and slurmd
//! on localhost, run in the foreground as children of the test, with every
//! file (key, socket, slurm.conf, state, spool, logs) in one temp folder.
//! No systemd and no cgroups (proctrack/linuxproc, task/none); nothing is
//! written under /etc, /run or /var. Needs root (SlurmUser=root, munged's
//! key ownership) and Debian's `slurmctld slurmd slurm-client munge`.
//!
//! [`Cluster`]'s `Drop` stops everything it started, so a failing assertion
//! still cleans up: slurmd and slurmctld get SIGTERM, leftover job
//! processes of this cluster SIGKILL, then munged SIGTERM.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Programs the cluster needs.
pub const PROGRAMS: [&str; 7] = [
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "scontrol",
    "sinfo",
];

/// Finds `prog` on PATH or in the sbin folders (daemons live in /usr/sbin,
/// which a non-login PATH can lack).
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file())
}

/// Why no cluster can be started here, if none can.
pub fn unavailable() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next().map(str::to_string));
    if uid.as_deref() != Some("0") {
        return Some("the test must run as root (SlurmUser=root, munged's key)".into());
    }
    let missing: Vec<&str> = PROGRAMS
        .iter()
        .copied()
        .filter(|p| which(p).is_none())
        .collect();
    (!missing.is_empty())
        .then(|| format!("Slurm is not installed ({} not found)", missing.join(", ")))
}

/// A running single-node cluster. Fields drop in order: the daemons are
/// stopped (by `Drop`) before the folder is removed.
pub struct Cluster {
    daemons: Vec<(&'static str, Child)>,
    pub dir: PathBuf,
    pub conf: PathBuf,
    /// (slurmctld port, slurmd port).
    pub ports: (u16, u16),
}

fn free_ports() -> (u16, u16) {
    // Both listeners are held until both ports are known, so they differ.
    let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let b = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let ports = (
        a.local_addr().expect("port").port(),
        b.local_addr().expect("port").port(),
    );
    (ports.0, ports.1)
}

fn conf_text(dir: &Path, ports: (u16, u16), cpus: u32) -> String {
    let d = dir.display();
    format!(
        "ClusterName=initscope-test\n\
         SlurmctldHost=localhost(127.0.0.1)\n\
         SlurmctldPort={ctld}\nSlurmdPort={slurmd}\n\
         SlurmUser=root\nSlurmdUser=root\n\
         AuthType=auth/munge\nCredType=cred/munge\n\
         AuthInfo=socket={d}/munge/munge.socket\n\
         StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
         SlurmctldPidFile={d}/run/slurmctld.pid\nSlurmdPidFile={d}/run/slurmd.pid\n\
         SlurmctldLogFile={d}/log/slurmctld.log\nSlurmdLogFile={d}/log/slurmd.log\n\
         SlurmctldDebug=info\nSlurmdDebug=info\n\
         PlugStackConfig={d}/plugstack.conf\n\
         ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
         JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
         JobCompType=jobcomp/filetxt\nJobCompLoc={d}/log/jobcomp.log\n\
         MpiDefault=none\nSwitchType=switch/none\n\
         SchedulerType=sched/backfill\n\
         SchedulerParameters=batch_sched_delay=0,sched_min_interval=0\n\
         SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
         SlurmdParameters=config_overrides\nReturnToService=2\n\
         MinJobAge=3600\nMailProg=/bin/true\n\
         NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs={cpus} RealMemory=1024 State=UNKNOWN\n\
         PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n",
        ctld = ports.0,
        slurmd = ports.1,
    )
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    File::create(dir.join("log").join(name)).map_or(Stdio::null(), Stdio::from)
}

impl Cluster {
    /// Writes the key and slurm.conf into `dir` (which must exist and stay
    /// until the cluster is dropped), starts the daemons and waits until the
    /// node is idle. `cpus` may exceed the machine's (config_overrides).
    pub fn start(dir: &Path, cpus: u32) -> Cluster {
        // munged insists that the socket's folder and its parents are
        // reachable by all; a temp folder may be created 0700.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for sub in ["munge", "state", "spool", "log", "run"] {
            std::fs::create_dir_all(dir.join(sub)).expect("cluster folders");
        }
        std::fs::set_permissions(dir.join("munge"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod munge");
        let mut key = vec![0u8; 1024];
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .expect("random munge key");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(dir.join("munge/munge.key"))
            .and_then(|mut f| f.write_all(&key))
            .expect("munge key");
        let ports = free_ports();
        let conf = dir.join("slurm.conf");
        std::fs::write(&conf, conf_text(dir, ports, cpus)).expect("slurm.conf");
        std::fs::write(dir.join("plugstack.conf"), "").expect("plugstack.conf");
        let mut c = Cluster {
            daemons: Vec::new(),
            dir: dir.to_path_buf(),
            conf,
            ports,
        };
        c.spawn_daemons();
        c.wait_idle(Duration::from_secs(60));
        c
    }

    fn spawn(&mut self, name: &'static str, args: &[String]) {
        let prog = which(name).unwrap_or_else(|| PathBuf::from(name));
        let child = Command::new(prog)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .stdout(log_file(&self.dir, &format!("{name}.stdout")))
            .stderr(log_file(&self.dir, &format!("{name}.stderr")))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.daemons.push((name, child));
    }

    fn spawn_daemons(&mut self) {
        let d = self.dir.display().to_string();
        let conf = self.conf.display().to_string();
        self.spawn(
            "munged",
            &[
                "-F".into(),
                format!("--socket={d}/munge/munge.socket"),
                format!("--key-file={d}/munge/munge.key"),
                // Even in the foreground munged checks its pid file's folder,
                // and /run/munge exists only where the service once ran.
                format!("--pid-file={d}/run/munged.pid"),
                format!("--log-file={d}/log/munged.log"),
                format!("--seed-file={d}/munge/munged.seed"),
                "--num-threads=2".into(),
            ],
        );
        let socket = self.dir.join("munge/munge.socket");
        self.wait_for("munged's socket", Duration::from_secs(20), || {
            socket.exists()
        });
        self.spawn("slurmctld", &["-D".into(), "-f".into(), conf.clone()]);
        self.spawn(
            "slurmd",
            &[
                "-D".into(),
                "-N".into(),
                "localhost".into(),
                "-f".into(),
                conf,
            ],
        );
    }

    /// Polls `ok` every 100 ms; panics with the logs when a daemon died or
    /// the deadline passed.
    fn wait_for(&mut self, what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
        let t = Instant::now();
        loop {
            if ok() {
                return;
            }
            let died = self
                .daemons
                .iter_mut()
                .find_map(|(name, child)| Some((*name, child.try_wait().ok()??)));
            if let Some((name, status)) = died {
                panic!(
                    "{name} exited ({status}) while waiting for {what}\n{}",
                    self.logs()
                );
            }
            if t.elapsed() > limit {
                panic!("no {what} after {limit:?}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_idle(&mut self, limit: Duration) {
        let mut sinfo = self.client("sinfo");
        sinfo.args(["-h", "-n", "localhost", "-o", "%T"]);
        self.wait_for("idle node", limit, || {
            sinfo
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
    }

    /// A Slurm client command for this cluster (SLURM_CONF set, any
    /// inherited SLURM_* removed in case the tests themselves run under Slurm).
    pub fn client(&self, prog: &str) -> Command {
        let mut c = Command::new(which(prog).unwrap_or_else(|| PathBuf::from(prog)));
        self.env(&mut c);
        c
    }

    /// Points `c` at this cluster.
    pub fn env(&self, c: &mut Command) {
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("SLURM_") {
                c.env_remove(k);
            }
        }
        c.env("SLURM_CONF", &self.conf);
    }

    /// The last lines of every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let Ok(rd) = std::fs::read_dir(self.dir.join("log")) else {
            return out;
        };
        for e in rd.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            out += &format!("--- {} (tail)\n{tail}\n", e.path().display());
        }
        out
    }

    /// Stops every daemon and job process of this cluster; idempotent.
    pub fn stop(&mut self) {
        let mut daemons = std::mem::take(&mut self.daemons);
        // slurmd and slurmctld first (newest first), munged last: the
        // Slurm daemons authenticate through it while shutting down.
        while let Some((name, child)) = daemons.pop() {
            if name == "munged" {
                kill_job_processes(&self.conf);
            }
            terminate(child, Duration::from_secs(15));
        }
        kill_job_processes(&self.conf);
    }

    /// Processes (not zombies) whose command line names the cluster folder.
    pub fn leftovers(&self) -> Vec<String> {
        let dir = self.dir.to_string_lossy().into_owned();
        procs()
            .filter(|p| !is_zombie(p))
            .filter_map(|p| {
                let cmd = std::fs::read(p.join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                cmd.contains(&dir)
                    .then(|| format!("{}: {cmd}", p.display()))
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM, then up to `grace` for the child to exit, then SIGKILL; always reaped.
fn terminate(mut child: Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let t = Instant::now();
    while t.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn procs() -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        })
}

fn is_zombie(p: &Path) -> bool {
    let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
    // "pid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
}

/// SIGKILLs slurmstepd and job processes of the cluster at `conf`: slurmd
/// puts SLURM_CONF in every job's environment; SLURM_JOB_ID or the
/// slurmstepd binary tell them from the test process itself.
fn kill_job_processes(conf: &Path) {
    let tag = format!("SLURM_CONF={}", conf.display());
    let me = std::process::id().to_string();
    for _ in 0..5 {
        let pids: Vec<String> = procs()
            .filter(|p| !p.ends_with(&me) && !is_zombie(p))
            .filter(|p| {
                let env = std::fs::read(p.join("environ")).unwrap_or_default();
                let env = String::from_utf8_lossy(&env);
                let vars: Vec<&str> = env.split('\0').collect();
                let exe = std::fs::read_link(p.join("exe")).unwrap_or_default();
                let stepd = exe.to_string_lossy().contains("slurmstepd");
                vars.contains(&tag.as_str())
                    && (stepd || vars.iter().any(|v| v.starts_with("SLURM_JOB_ID=")))
            })
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        if pids.is_empty() {
            return;
        }
        let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        std::thread::sleep(Duration::from_millis(200));
    }
}
