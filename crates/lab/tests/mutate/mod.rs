//! Malformed lab files for tests: the repository's examples, mutated by
//! a small seeded generator (the same files every run). Shared by the lab
//! crate's parsing test and the CLI's test that brings them up.

pub fn examples() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/labs");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

/// A small generator with a fixed seed: the same files every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A name longer than any the kernel takes.
const LONG: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

const JUNK: &[&str] = &[
    "",
    "{",
    "}",
    "[",
    "]",
    ":",
    "- ",
    "  ",
    "\t",
    "\"",
    "'",
    "&a",
    "*a",
    "!!str",
    "null",
    "~",
    "-1",
    "4294967296",
    "1e309",
    "nan",
    "0.0.0.0/0",
    "::/0",
    "10.0.0.256/24",
    "a -> b",
    "via",
    "metric",
    "default",
    "bogus: 1",
    "---",
    "\u{feff}",
    "\u{0}",
    "é",
    LONG,
];

/// One mutation of `text`: delete, duplicate or swap lines, insert junk,
/// cut the file, or change a value.
pub fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return JUNK[rng.below(JUNK.len())].to_string();
    }
    let i = rng.below(lines.len());
    match rng.below(7) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let copy = lines[i].clone();
            lines.insert(i, copy);
        }
        2 => {
            let j = rng.below(lines.len());
            lines.swap(i, j);
        }
        3 => {
            let at = any_boundary(&lines[i], rng);
            lines[i].insert_str(at, JUNK[rng.below(JUNK.len())]);
        }
        4 => lines.truncate(i),
        5 => {
            if let Some((key, _)) = lines[i].split_once(": ") {
                lines[i] = format!("{key}: {}", JUNK[rng.below(JUNK.len())]);
            }
        }
        _ => {
            let cut = any_boundary(&lines[i], rng);
            lines[i].truncate(cut);
        }
    }
    lines.join("\n")
}

/// A byte offset in `line` that starts a character (or its end).
fn any_boundary(line: &str, rng: &mut Rng) -> usize {
    let n = rng.below(line.chars().count() + 1);
    line.char_indices().map(|(k, _)| k).nth(n).unwrap_or(line.len())
}
