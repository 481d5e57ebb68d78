//! Slurm, the one scheduler lnmc submits to, and the one place it is spoken to: the job-array
//! script of a sweep, `sbatch`, `squeue` and `scancel`. A sweep's task is `lnmc sweep NAME
//! --task K`; Slurm only starts, requeues and cancels them.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The job-array script of a sweep of `tasks` runs, `throttle` at a time, each running `exe`
/// in `here`; Slurm's own output goes into `out`.
pub fn script(
    name: &str,
    tasks: usize,
    throttle: usize,
    exe: &Path,
    here: &Path,
    out: &Path,
) -> String {
    format!(
        "#!/bin/bash\n\
         # lnmc sweep {name}: one array task a run; a requeued or preempted task resumes its run\n\
         # from its last completed epoch (lnmc stops cleanly on SIGTERM).\n\
         #SBATCH --job-name=lnmc-{name}\n\
         #SBATCH --array=0-{last}%{throttle}\n\
         #SBATCH --output={out}/slurm-%A_%a.out\n\
         #SBATCH --requeue\n\
         #SBATCH --open-mode=append\n\
         cd {here}\n\
         exec {exe} sweep {name} --task \"$SLURM_ARRAY_TASK_ID\"\n",
        last = tasks - 1,
        out = out.display(),
        here = shell_quote(&here.display().to_string()),
        exe = shell_quote(&exe.display().to_string()),
    )
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Submits `script` (`sbatch --parsable [extra…] SCRIPT`); the job id.
pub fn submit(script: &Path, extra: Option<&str>) -> Result<String> {
    let mut command = Command::new("sbatch");
    command.arg("--parsable");
    if let Some(extra) = extra {
        command.args(extra.split_whitespace());
    }
    let out = command.arg(script).output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(
            "--on slurm: no sbatch on PATH (run it where Slurm's commands are, e.g. a login node)",
        ),
        _ => Error::runtime(format!("cannot run sbatch ({e})")),
    })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::input(format!(
            "sbatch refused the sweep: {}",
            why.trim().lines().last().unwrap_or("no message")
        )));
    }
    // --parsable prints "JOBID" or "JOBID;CLUSTER".
    Ok(String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .to_string())
}

/// Cancels the jobs `ids`.
pub fn cancel(ids: &[&str]) -> Result<()> {
    let out = Command::new("scancel")
        .args(ids)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::input("--cancel: no scancel on PATH"),
            _ => Error::runtime(format!("cannot run scancel ({e})")),
        })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::input(format!("scancel refused: {}", why.trim())));
    }
    Ok(())
}

/// What `squeue` says of the array tasks of jobs `ids` still queued or running: task → state.
/// Empty where squeue cannot be asked (not on this machine): then the runs' own files tell.
/// It may take seconds on a busy cluster: the dashboard asks on a worker (`tui::jobs`).
pub fn queue_states(ids: &[&str]) -> HashMap<usize, String> {
    if ids.is_empty() {
        return HashMap::new();
    }
    let Ok(out) = Command::new("squeue")
        .args(["-h", "-r", "-o", "%i %T", "-j", &ids.join(",")])
        .stderr(Stdio::null())
        .output()
    else {
        return HashMap::new();
    };
    parse_queue(&String::from_utf8_lossy(&out.stdout))
}

/// `squeue -h -r -o "%i %T"` lines ("4242_3 PENDING"): task → state in lower case.
pub fn parse_queue(text: &str) -> HashMap<usize, String> {
    text.lines()
        .filter_map(|line| {
            let (id, state) = line.trim().split_once(' ')?;
            let task = id.rsplit_once('_')?.1.parse::<usize>().ok()?;
            Some((task, state.trim().to_lowercase()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_give_each_task_its_state() {
        let q = parse_queue("4242_0 RUNNING\n4242_3 PENDING\n  4242_12 COMPLETING \nnoise\n");
        assert_eq!(q.len(), 3);
        assert_eq!(q[&0], "running");
        assert_eq!(q[&3], "pending");
        assert_eq!(q[&12], "completing");
    }

    #[test]
    fn the_script_is_one_array_throttled_and_quotes_its_paths() {
        let s = script(
            "s",
            4,
            3,
            Path::new("/opt/it's/lnmc"),
            Path::new("/home/u"),
            Path::new("/home/u/runs/s"),
        );
        assert!(s.contains("#SBATCH --array=0-3%3"), "{s}");
        assert!(
            s.contains("exec '/opt/it'\\''s/lnmc' sweep s --task"),
            "{s}"
        );
        assert!(
            s.contains("#SBATCH --output=/home/u/runs/s/slurm-%A_%a.out"),
            "{s}"
        );
    }
}
