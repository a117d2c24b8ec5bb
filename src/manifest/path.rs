//! A scanner that finds the source line of every JSON path, so each
//! problem can point into the file.

use crate::registry::JPath;
use std::collections::{HashMap, HashSet};

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
