//! Is the process that started a run still running it? A pid alone can be reused after a
//! reboot or a long time, so a run also keeps its process's start time.

/// When process `pid` started, in clock ticks since boot (field 22 of `/proc/PID/stat`); `None`
/// when there is no such process, it is a zombie (dead, not yet reaped), or there is no /proc.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state).
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// This process's pid and start time, stored with each run it records.
pub fn this_process() -> (u32, Option<u64>) {
    let pid = std::process::id();
    (pid, process_start_time(pid))
}

/// Whether the process recorded as (`pid`, `start`) is still alive. Without /proc (other
/// systems) a stored start time cannot be checked: the pid alone decides.
pub fn is_alive(pid: i64, start: Option<i64>) -> bool {
    let Ok(pid) = u32::try_from(pid) else {
        return false;
    };
    if std::path::Path::new("/proc/self/stat").exists() {
        match (process_start_time(pid), start) {
            (None, _) => false,
            (Some(now), Some(then)) => now as i64 == then,
            (Some(_), None) => true,
        }
    } else {
        pid_exists(pid)
    }
}

#[cfg(unix)]
fn pid_exists(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn pid_exists(_pid: u32) -> bool {
    // No cheap check: assume alive so a live run is never marked interrupted.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_child_is_not() {
        let (pid, start) = this_process();
        assert!(start.is_some());
        assert!(is_alive(pid as i64, start.map(|s| s as i64)));
        // Same pid, another start time: the pid was reused by a different process.
        assert!(!is_alive(pid as i64, start.map(|s| s as i64 + 1)));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let cpid = child.id();
        child.wait().unwrap();
        assert!(!is_alive(cpid as i64, None));
    }
}
