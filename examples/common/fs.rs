//! The file system a path is on, for reports of what was measured where. The registry
//! benchmark includes this file too.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The type of the file system `path` is on: a name for the common ones, else its magic
/// number; `?` if it cannot be asked.
pub fn fs_name(path: &Path) -> String {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return "?".into();
    };
    // SAFETY: statfs writes into the zeroed struct we pass; `c` is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "?".into();
    }
    match st.f_type {
        libc::TMPFS_MAGIC => "tmpfs".into(),
        libc::EXT4_SUPER_MAGIC => "ext4".into(),
        libc::XFS_SUPER_MAGIC => "xfs".into(),
        libc::BTRFS_SUPER_MAGIC => "btrfs".into(),
        libc::OVERLAYFS_SUPER_MAGIC => "overlayfs".into(),
        other => format!("fs 0x{other:x}"),
    }
}
