//! JSON paths as users read them (`variants[2].init.std`,
//! `sweep["network.depth"][1]`) and a scanner that finds the source line of
//! every path, so each problem can point into the file.

use std::collections::{HashMap, HashSet};
use std::fmt;

/// One step of a path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path into a JSON document; the empty path is the document itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct JPath(pub Vec<Seg>);

impl JPath {
    pub fn root() -> JPath {
        JPath(Vec::new())
    }

    pub fn key(&self, k: &str) -> JPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    pub fn idx(&self, i: usize) -> JPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// `self` followed by every segment of `tail`.
    pub fn join(&self, tail: &[Seg]) -> JPath {
        let mut p = self.clone();
        p.0.extend_from_slice(tail);
        p
    }

    /// A path of object keys, e.g. from the dotted sweep path `init.std`.
    pub fn of_keys<S: AsRef<str>>(keys: &[S]) -> JPath {
        JPath(
            keys.iter()
                .map(|k| Seg::Key(k.as_ref().to_string()))
                .collect(),
        )
    }
}

/// Keys that read unambiguously after a dot; others are written `["a.b"]`.
fn is_plain(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for JPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sweep keys are dotted paths, so they are always quoted for clarity.
        let in_sweep = self.0.first() == Some(&Seg::Key("sweep".into()));
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if is_plain(k) && i == 0 => f.write_str(k)?,
                Seg::Key(k) if is_plain(k) && !(in_sweep && i == 1) => write!(f, ".{k}")?,
                Seg::Key(k) => write!(f, "[{}]", serde_json::Value::String(k.clone()))?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The 1-based line of every path in a source text, plus duplicate keys
/// (which serde_json silently resolves by keeping the last value).
#[derive(Debug, Clone, Default)]
pub(crate) struct LineMap {
    lines: HashMap<JPath, usize>,
    pub duplicates: Vec<(JPath, usize)>,
}

impl LineMap {
    /// Scans text that serde_json already accepted; on anything unexpected it
    /// stops and keeps what it found, since lines are only a convenience.
    pub fn scan(text: &str) -> LineMap {
        let mut s = Scanner {
            text,
            pos: 0,
            line: 1,
            map: LineMap::default(),
        };
        let _ = s.value(&JPath::root());
        s.map
    }

    /// The line of `p`, or of its longest prefix that appears in the text.
    pub fn line_of(&self, p: &JPath) -> Option<usize> {
        (0..=p.0.len())
            .rev()
            .find_map(|n| self.lines.get(&JPath(p.0[..n].to_vec())).copied())
    }
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    map: LineMap,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.pos += 1;
        }
    }

    fn value(&mut self, path: &JPath) -> Option<()> {
        self.skip_ws();
        self.map.lines.entry(path.clone()).or_insert(self.line);
        match self.peek()? {
            b'{' => self.object(path),
            b'[' => self.array(path),
            b'"' => self.string().map(|_| ()),
            _ => {
                while self.peek().is_some_and(|b| !b",]} \t\r\n".contains(&b)) {
                    self.pos += 1;
                }
                Some(())
            }
        }
    }

    /// Skips a string literal and returns its raw text, quotes included.
    fn string(&mut self) -> Option<&str> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek()? {
                b'\\' => self.pos += 2,
                b'"' => break,
                _ => self.pos += 1,
            }
        }
        self.pos += 1;
        self.text.get(start..self.pos)
    }

    fn object(&mut self, path: &JPath) -> Option<()> {
        self.pos += 1;
        let mut seen = HashSet::new();
        loop {
            self.skip_ws();
            match self.peek()? {
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                b',' => self.pos += 1,
                b'"' => {
                    let key: String = serde_json::from_str(self.string()?).ok()?;
                    let child = path.key(&key);
                    if !seen.insert(key) {
                        self.map.duplicates.push((child.clone(), self.line));
                    }
                    // The last duplicate wins in serde_json, so its line wins here too.
                    self.map.lines.insert(child.clone(), self.line);
                    self.skip_ws();
                    (self.peek()? == b':').then_some(())?;
                    self.pos += 1;
                    self.value(&child)?;
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, path: &JPath) -> Option<()> {
        self.pos += 1;
        let mut i = 0;
        loop {
            self.skip_ws();
            match self.peek()? {
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                b',' => self.pos += 1,
                _ => {
                    self.value(&path.idx(i))?;
                    i += 1;
                }
            }
        }
    }
}
