//! `exec`: runc's flags for a new process in a running container.

use super::{reserve_preserved_fds, verb, GlobalOpts};
use clap::Args;
use nsbox_runtime::config::oci::CAPABILITY_NAMES;
use nsbox_runtime::container::{self, ContainerError, ExecOptions};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The process as the spec's process JSON (a file); flags change it.
    #[arg(short, long, value_name = "FILE")]
    process: Option<PathBuf>,
    /// Return once the process runs (it then outlives nsbox).
    #[arg(short, long)]
    detach: bool,
    /// Write the process's PID here.
    #[arg(long = "pid-file", value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// The working directory inside the container.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// KEY=VALUE, added to (or replacing in) the process's environment.
    #[arg(short, long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// UID[:GID] inside the container.
    #[arg(short, long, value_name = "UID[:GID]")]
    user: Option<String>,
    /// Supplementary groups, added.
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    additional_gids: Vec<u32>,
    /// A capability added to every set (CAP_NET_ADMIN or NET_ADMIN).
    #[arg(short, long, value_name = "CAP")]
    cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// Pass descriptors 3 .. 3+N to the process.
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    preserve_fds: u32,
    /// A terminal for the process (its master goes to --console-socket).
    #[arg(short, long)]
    tty: bool,
    /// The unix socket the terminal's master is sent to.
    #[arg(long = "console-socket", value_name = "SOCKET")]
    console_socket: Option<PathBuf>,
    /// An AppArmor profile (refused: this host has no AppArmor).
    #[arg(long, value_name = "PROFILE")]
    apparmor: Option<String>,
    /// An SELinux label (refused: this host has no SELinux).
    #[arg(long = "process-label", value_name = "LABEL")]
    process_label: Option<String>,
    /// The container's id.
    id: String,
    /// The command and its arguments (unless --process gives them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn exec(global: &GlobalOpts, args: ExecArgs) -> i32 {
    reserve_preserved_fds(args.preserve_fds);
    verb(global, |root| {
        let opts = args.options()?;
        container::exec(root, &args.id, opts)
    })
}

impl ExecArgs {
    fn options(&self) -> Result<ExecOptions, ContainerError> {
        let usage = |m: String| ContainerError::Usage(m);
        if self.apparmor.is_some() || self.process_label.is_some() {
            return Err(usage(
                "--apparmor/--process-label: this host has neither AppArmor nor SELinux".into(),
            ));
        }
        let process = match &self.process {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
                Some(nsbox_runtime::config::oci::process_from_json(path, &text)?)
            }
        };
        let user = match &self.user {
            None => None,
            Some(text) => Some(nsbox_runtime::spec::parse_user(text).map_err(|e| usage(format!("--user: {e}")))?),
        };
        let mut add_caps = 0u64;
        for cap in &self.cap {
            let name = cap.to_ascii_uppercase();
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{name}")
            };
            let bit = CAPABILITY_NAMES
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| usage(format!("--cap {cap:?}: not a capability")))?;
            add_caps |= 1 << bit;
        }
        for entry in &self.env {
            if !entry.contains('=') {
                return Err(usage(format!("--env {entry:?}: expected KEY=VALUE")));
            }
        }
        Ok(ExecOptions {
            process,
            args: self.args.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            user,
            additional_gids: self.additional_gids.clone(),
            add_caps,
            no_new_privs: self.no_new_privs,
            detach: self.detach,
            pid_file: self
                .pid_file
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            preserve_fds: self.preserve_fds,
            tty: self.tty,
            console_socket: self
                .console_socket
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
        })
    }
}
