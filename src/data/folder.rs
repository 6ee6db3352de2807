//! Where datasets live when no `--data-dir` / `GRADLAB_DATA` says: `datasets/` in the working
//! directory when there is one (a checkout of the project), else the platform's data folder, so
//! an installed gradlab started from a desktop menu does not write into `~/datasets`.

use std::path::{Path, PathBuf};

/// The default data folder, as an absolute path when the working directory is known.
pub fn default_data_dir() -> PathBuf {
    let cwd = std::env::current_dir().ok();
    let platform =
        directories::ProjectDirs::from("", "", "gradlab").map(|d| d.data_dir().to_path_buf());
    choose(cwd.as_deref(), platform.as_deref())
}

/// [`default_data_dir`] given the working directory and the platform data folder.
pub fn choose(cwd: Option<&Path>, platform_data: Option<&Path>) -> PathBuf {
    let local = cwd.map_or_else(|| PathBuf::from("datasets"), |d| d.join("datasets"));
    if local.is_dir() {
        return local;
    }
    match platform_data {
        Some(p) => p.join("datasets"),
        // No home folder known (a bare container): the working directory is all there is.
        None => local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_uses_its_datasets_folder_else_the_platform_folder() {
        let work = tempfile::tempdir().unwrap();
        let platform = tempfile::tempdir().unwrap();
        assert_eq!(
            choose(Some(work.path()), Some(platform.path())),
            platform.path().join("datasets")
        );
        std::fs::create_dir(work.path().join("datasets")).unwrap();
        assert_eq!(
            choose(Some(work.path()), Some(platform.path())),
            work.path().join("datasets")
        );
        assert_eq!(
            choose(Some(platform.path()), None),
            platform.path().join("datasets")
        );
    }
}
