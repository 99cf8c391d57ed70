//! [`SourceMap`]: the files a compilation read, for positions and rendering.

use std::path::{Path, PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// One source file: the name it is shown under and its text.
#[derive(Debug, Clone)]
struct SourceFile {
    name: String,
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
}

/// Every file a compilation read, so diagnostics can name file, line and
/// column and show the source line.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        SourceMap::default()
    }

    /// Adds a file shown as `name`, read from `path`, and returns its id.
    pub fn add(&mut self, name: &str, path: &Path, text: String) -> FileId {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        self.files.push(SourceFile {
            name: name.to_string(),
            path: path.to_path_buf(),
            text,
            line_starts,
        });
        FileId((self.files.len() - 1) as u32)
    }

    /// The id of the file read from `path`, if it was read already.
    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|file| file.path == path)
            .map(|index| FileId(index as u32))
    }

    /// The name `file` is shown under.
    pub fn name(&self, file: FileId) -> &str {
        self.files
            .get(file.0 as usize)
            .map_or("<unknown>", |file| file.name.as_str())
    }

    /// The path `file` was read from.
    pub fn path(&self, file: FileId) -> &Path {
        self.files
            .get(file.0 as usize)
            .map_or(Path::new(""), |file| file.path.as_path())
    }

    /// The text of `file`.
    pub fn text(&self, file: FileId) -> &str {
        self.files
            .get(file.0 as usize)
            .map_or("", |file| file.text.as_str())
    }

    /// The 1-based line and column (in characters) of byte `offset` in `file`.
    pub fn line_column(&self, file: FileId, offset: usize) -> (usize, usize) {
        let Some(source) = self.files.get(file.0 as usize) else {
            return (1, 1);
        };
        let offset = offset.min(source.text.len());
        let line = match source.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        };
        let line_start = source.line_starts[line];
        let column = source
            .text
            .get(line_start..offset)
            .map_or(offset - line_start, |prefix| prefix.chars().count());
        (line + 1, column + 1)
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was added.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
