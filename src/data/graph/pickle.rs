//! A small interpreter for the Python 2 pickles (protocol 2) of the Planetoid files: exactly the
//! opcodes they use, and a whitelist of the globals they name (numpy arrays and dtypes, scipy's
//! CSR matrix, `collections.defaultdict`, `__builtin__.list`, `copy_reg._reconstructor`).
//!
//! Nothing is ever executed: a global is a name matched against the whitelist, and a "call"
//! (REDUCE, NEWOBJ, BUILD) on a whitelisted name builds the matching Rust value. Any other opcode
//! or global is refused with the file name, the opcode and its byte offset. Every length in the
//! stream is checked against the bytes left in the file, so a header cannot make the reader
//! allocate more than the file holds (plus [`MAX_OBJECTS`] small objects).

use anyhow::{Context, bail};

/// Largest pickle file read (PubMed's `allx`, the biggest Planetoid file, is ~38 MiB).
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Most objects one file may create (Citeseer's graph creates ~30,000).
pub const MAX_OBJECTS: usize = 20_000_000;

/// The globals a Planetoid file may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    Reconstruct,
    NdArrayClass,
    DType,
    CsrMatrix,
    DefaultDict,
    List,
    Reconstructor,
}

impl Global {
    fn from_name(module: &str, name: &str) -> Option<Global> {
        Some(match (module, name) {
            ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
                Global::Reconstruct
            }
            ("numpy", "ndarray") => Global::NdArrayClass,
            ("numpy", "dtype") => Global::DType,
            ("scipy.sparse.csr" | "scipy.sparse._csr", "csr_matrix") => Global::CsrMatrix,
            ("collections", "defaultdict") => Global::DefaultDict,
            ("__builtin__" | "builtins", "list") => Global::List,
            ("copy_reg" | "copyreg", "_reconstructor") => Global::Reconstructor,
            _ => return None,
        })
    }
}

/// A numpy dtype as the files describe it: kind + item size ("f4", "i8", ...) and byte order.
#[derive(Clone, Debug, PartialEq)]
pub struct DType {
    pub code: String,
    /// b'<', b'>', b'|' or b'='.
    pub order: u8,
}

impl DType {
    fn item_size(&self) -> Option<usize> {
        let (kind, size) = self.code.as_bytes().split_first()?;
        let size: usize = std::str::from_utf8(size).ok()?.parse().ok()?;
        match (kind, size) {
            (b'f', 4 | 8) | (b'i' | b'u', 1 | 2 | 4 | 8) | (b'b', 1) => Some(size),
            _ => None,
        }
    }
}

/// A numpy array restored from its raw bytes (C order), converted to f64.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NdArray {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// What a pickle holds, as far as the Planetoid files go.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A Python 2 `str` (bytes) or a unicode string's UTF-8.
    Str(Vec<u8>),
    Tuple(Vec<usize>),
    List(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Global(Global),
    DType(DType),
    /// An array under construction (after `_reconstruct`) or restored (after BUILD).
    Array(Option<NdArray>),
    /// A CSR matrix; its state dict after BUILD.
    Csr(Option<usize>),
    DefaultDict(Vec<(usize, usize)>),
}

/// The objects of one file; values refer to each other by index.
pub struct Pickle {
    pub objects: Vec<Value>,
    pub root: usize,
}

impl Pickle {
    pub fn get(&self, h: usize) -> &Value {
        &self.objects[h]
    }
    pub fn int(&self, h: usize) -> Option<i64> {
        match self.get(h) {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
    pub fn str(&self, h: usize) -> Option<&[u8]> {
        match self.get(h) {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The value of key `key` in a dict.
    pub fn dict_get(&self, h: usize, key: &str) -> Option<usize> {
        let (Value::Dict(items) | Value::DefaultDict(items)) = self.get(h) else {
            return None;
        };
        items
            .iter()
            .rev()
            .find(|(k, _)| self.str(*k) == Some(key.as_bytes()))
            .map(|&(_, v)| v)
    }
    pub fn array(&self, h: usize) -> Option<&NdArray> {
        match self.get(h) {
            Value::Array(Some(a)) => Some(a),
            _ => None,
        }
    }
}

fn opcode_name(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        _ => "unknown",
    }
}

struct Machine<'a> {
    file: &'a str,
    data: &'a [u8],
    pos: usize,
    objects: Vec<Value>,
    stack: Vec<usize>,
    marks: Vec<usize>,
    memo: std::collections::HashMap<u32, usize>,
    /// Offset and opcode being executed, for messages.
    at: usize,
    op: u8,
}

impl<'a> Machine<'a> {
    fn fail<T>(&self, what: impl std::fmt::Display) -> anyhow::Result<T> {
        bail!(
            "{}: {what} (opcode {} 0x{:02x} at byte {})",
            self.file,
            opcode_name(self.op),
            self.op,
            self.at
        )
    }
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        if n > self.data.len() - self.pos {
            return self.fail(format!(
                "the file ends early: {n} bytes claimed, {} left",
                self.data.len() - self.pos
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> anyhow::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> anyhow::Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> anyhow::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn new_obj(&mut self, v: Value) -> anyhow::Result<usize> {
        if self.objects.len() >= MAX_OBJECTS {
            return self.fail(format!("more than {MAX_OBJECTS} objects"));
        }
        self.objects.push(v);
        Ok(self.objects.len() - 1)
    }
    fn push(&mut self, v: Value) -> anyhow::Result<()> {
        let h = self.new_obj(v)?;
        self.stack.push(h);
        Ok(())
    }
    fn pop(&mut self) -> anyhow::Result<usize> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.fail("the stack is empty");
        }
        Ok(self.stack.pop().expect("checked above"))
    }
    fn top(&self) -> anyhow::Result<usize> {
        match self.stack.last() {
            Some(&h) if self.stack.len() > self.marks.last().copied().unwrap_or(0) => Ok(h),
            _ => self.fail("the stack is empty"),
        }
    }
    /// The items pushed since the last MARK, which is dropped.
    fn pop_mark(&mut self) -> anyhow::Result<Vec<usize>> {
        let Some(m) = self.marks.pop() else {
            return self.fail("no MARK before this opcode");
        };
        Ok(self.stack.split_off(m))
    }
    fn put(&mut self, key: u32) -> anyhow::Result<()> {
        let h = self.top()?;
        self.memo.insert(key, h);
        Ok(())
    }
    fn get(&mut self, key: u32) -> anyhow::Result<()> {
        match self.memo.get(&key) {
            Some(&h) => {
                self.stack.push(h);
                Ok(())
            }
            None => self.fail(format!("memo slot {key} was never stored")),
        }
    }
    fn string(&mut self, n: usize) -> anyhow::Result<()> {
        let s = self.take(n)?.to_vec();
        self.push(Value::Str(s))
    }

    fn run(mut self) -> anyhow::Result<Pickle> {
        loop {
            self.at = self.pos;
            self.op = 0;
            let op = self
                .u8()
                .with_context(|| format!("{}: the file ends before the STOP opcode", self.file))?;
            self.op = op;
            match op {
                0x80 => {
                    let v = self.u8()?;
                    if v > 2 {
                        return self.fail(format!("pickle protocol {v} (only 2 is read)"));
                    }
                }
                b'.' => {
                    let root = self.pop()?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return self.fail("objects left on the stack at STOP");
                    }
                    return Ok(Pickle {
                        objects: self.objects,
                        root,
                    });
                }
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v as i64))?
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Value::Int(v as i64))?
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(v as i64))?
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    if n > 8 {
                        return self.fail(format!("a {n}-byte integer"));
                    }
                    let b = self.take(n)?;
                    let mut v: i64 = 0;
                    for (k, &x) in b.iter().enumerate() {
                        v |= (x as i64) << (8 * k);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.push(Value::Int(v))?
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes(b.try_into().expect("8 bytes"));
                    self.push(Value::Float(v))?
                }
                b'U' => {
                    let n = self.u8()? as usize;
                    self.string(n)?
                }
                b'T' | b'X' => {
                    let n = self.u32()? as usize;
                    self.string(n)?
                }
                b')' => self.push(Value::Tuple(Vec::new()))?,
                0x85..=0x87 => {
                    let k = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(k);
                    for _ in 0..k {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Value::Tuple(items))?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items))?
                }
                b']' => self.push(Value::List(Vec::new()))?,
                b'}' => self.push(Value::Dict(Vec::new()))?,
                b'q' => {
                    let k = self.u8()? as u32;
                    self.put(k)?
                }
                b'r' => {
                    let k = self.u32()?;
                    self.put(k)?
                }
                b'h' => {
                    let k = self.u8()? as u32;
                    self.get(k)?
                }
                b'j' => {
                    let k = self.u32()?;
                    self.get(k)?
                }
                b'a' => {
                    let v = self.pop()?;
                    let l = self.top()?;
                    self.append(l, vec![v])?
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let l = self.top()?;
                    self.append(l, items)?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let d = self.top()?;
                    self.set_items(d, vec![k, v])?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return self.fail("SETITEMS with an odd number of items");
                    }
                    let d = self.top()?;
                    self.set_items(d, items)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    match Global::from_name(&module, &name) {
                        Some(g) => self.push(Value::Global(g))?,
                        None => {
                            return self.fail(format!(
                                "global {module}.{name} is not one a Planetoid file uses; refused (never executed)"
                            ));
                        }
                    }
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let v = self.reduce(f, args)?;
                    self.push(v)?
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = match (self.objects[cls].clone(), &self.objects[args]) {
                        (Value::Global(Global::CsrMatrix), Value::Tuple(a)) if a.is_empty() => {
                            Value::Csr(None)
                        }
                        (Value::Global(g), _) => {
                            return self.fail(format!("NEWOBJ of {g:?} is not supported"));
                        }
                        _ => return self.fail("NEWOBJ of something that is not a class"),
                    };
                    self.push(v)?
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.top()?;
                    self.build(obj, state)?
                }
                other => {
                    return self.fail(format!(
                        "opcode {} is not one a Planetoid file uses; refused",
                        opcode_name(other)
                    ));
                }
            }
        }
    }

    /// A newline-terminated ASCII line (the arguments of GLOBAL), at most 256 bytes.
    fn line(&mut self) -> anyhow::Result<String> {
        let rest = &self.data[self.pos..];
        let Some(end) = rest.iter().take(256).position(|&b| b == b'\n') else {
            return self.fail("a GLOBAL name without its newline within 256 bytes");
        };
        let s = &rest[..end];
        self.pos += end + 1;
        if !s.iter().all(|b| b.is_ascii_graphic()) {
            return self.fail("a GLOBAL name that is not printable ASCII");
        }
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    fn append(&mut self, l: usize, items: Vec<usize>) -> anyhow::Result<()> {
        match &mut self.objects[l] {
            Value::List(v) => {
                v.extend(items);
                Ok(())
            }
            _ => self.fail("APPEND to something that is not a list"),
        }
    }

    fn set_items(&mut self, d: usize, items: Vec<usize>) -> anyhow::Result<()> {
        let pairs = items.chunks_exact(2).map(|c| (c[0], c[1]));
        match &mut self.objects[d] {
            Value::Dict(v) | Value::DefaultDict(v) => {
                v.extend(pairs);
                Ok(())
            }
            _ => self.fail("SETITEM on something that is not a dict"),
        }
    }

    fn tuple(&self, h: usize) -> anyhow::Result<Vec<usize>> {
        match &self.objects[h] {
            Value::Tuple(t) => Ok(t.clone()),
            _ => self.fail("expected a tuple"),
        }
    }

    fn reduce(&mut self, f: usize, args: usize) -> anyhow::Result<Value> {
        let Value::Global(g) = self.objects[f] else {
            return self.fail("REDUCE of something that is not a whitelisted global");
        };
        let a = self.tuple(args)?;
        let arg = |k: usize| a.get(k).map(|&h| &self.objects[h]);
        match g {
            // _reconstruct(ndarray, (0,), 'b'): an empty array that BUILD fills.
            Global::Reconstruct => match arg(0) {
                Some(Value::Global(Global::NdArrayClass)) if a.len() == 3 => Ok(Value::Array(None)),
                _ => {
                    self.fail("numpy _reconstruct with arguments other than (ndarray, shape, 'b')")
                }
            },
            // dtype('f4', 0, 1)
            Global::DType => match arg(0) {
                Some(Value::Str(code)) => {
                    let code = String::from_utf8_lossy(code).into_owned();
                    let d = DType { code, order: b'|' };
                    if d.item_size().is_none() {
                        return self.fail(format!("numpy dtype {:?} is not supported", d.code));
                    }
                    Ok(Value::DType(d))
                }
                _ => self.fail("numpy dtype without a type code"),
            },
            // defaultdict(list)
            Global::DefaultDict => match arg(0) {
                Some(Value::Global(Global::List)) if a.len() == 1 => {
                    Ok(Value::DefaultDict(Vec::new()))
                }
                _ => self.fail("defaultdict of something other than list"),
            },
            // _reconstructor(cls, object, None): a bare instance of a whitelisted class.
            Global::Reconstructor => match arg(0) {
                Some(Value::Global(Global::CsrMatrix)) => Ok(Value::Csr(None)),
                _ => self.fail("copy_reg._reconstructor of a class other than csr_matrix"),
            },
            other => self.fail(format!("calling {other:?} is not supported")),
        }
    }

    fn build(&mut self, obj: usize, state: usize) -> anyhow::Result<()> {
        match self.objects[obj].clone() {
            Value::DType(mut d) => {
                // (version, byte order, subarray, names, fields, elsize, alignment, flags)
                let t = self.tuple(state)?;
                let order = t.get(1).and_then(|&h| match &self.objects[h] {
                    Value::Str(s) if s.len() == 1 => Some(s[0]),
                    _ => None,
                });
                match order {
                    Some(o @ (b'<' | b'>' | b'|' | b'=')) => d.order = o,
                    _ => return self.fail("a numpy dtype state without a byte order"),
                }
                if t.get(2).is_some_and(|&h| self.objects[h] != Value::None)
                    || t.get(3).is_some_and(|&h| self.objects[h] != Value::None)
                {
                    return self.fail("a structured or sub-array numpy dtype");
                }
                self.objects[obj] = Value::DType(d);
                Ok(())
            }
            Value::Array(None) => {
                let a = self.array_state(state)?;
                self.objects[obj] = Value::Array(Some(a));
                Ok(())
            }
            Value::Csr(None) => match self.objects[state] {
                Value::Dict(_) => {
                    self.objects[obj] = Value::Csr(Some(state));
                    Ok(())
                }
                _ => self.fail("a csr_matrix state that is not a dict"),
            },
            _ => self.fail("BUILD of an object that takes no state"),
        }
    }

    /// numpy's `ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata))`.
    fn array_state(&self, state: usize) -> anyhow::Result<NdArray> {
        let t = self.tuple(state)?;
        let t = match t.len() {
            5 => &t[1..],
            4 => &t[..],
            n => return self.fail(format!("an ndarray state of {n} items")),
        };
        let mut shape = Vec::new();
        for h in self.tuple(t[0])? {
            match self.objects[h] {
                Value::Int(d) if d >= 0 => shape.push(d as usize),
                _ => return self.fail("an ndarray shape that is not a tuple of sizes"),
            }
        }
        let Value::DType(dtype) = &self.objects[t[1]] else {
            return self.fail("an ndarray state without a dtype");
        };
        let fortran = matches!(self.objects[t[2]], Value::Bool(true) | Value::Int(1));
        let Value::Str(raw) = &self.objects[t[3]] else {
            return self.fail("an ndarray whose data is not raw bytes (object arrays are refused)");
        };
        let size = dtype.item_size().expect("checked when the dtype was made");
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|c| c.checked_mul(size).is_some());
        let Some(count) = count else {
            return self.fail(format!("an ndarray of shape {shape:?} overflows"));
        };
        if count * size != raw.len() {
            return self.fail(format!(
                "an ndarray of shape {shape:?} and dtype {} needs {} bytes, the data has {}",
                dtype.code,
                count * size,
                raw.len()
            ));
        }
        if fortran && shape.len() > 1 {
            return self.fail("a Fortran-ordered ndarray");
        }
        let big = dtype.order == b'>';
        let data = raw
            .chunks_exact(size)
            .map(|c| decode(&dtype.code, c, big))
            .collect();
        Ok(NdArray { shape, data })
    }
}

fn decode(code: &str, c: &[u8], big: bool) -> f64 {
    let mut b = [0u8; 8];
    b[..c.len()].copy_from_slice(c);
    if big {
        b[..c.len()].reverse();
    }
    match code {
        "f4" => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        "f8" => f64::from_le_bytes(b),
        "i1" => b[0] as i8 as f64,
        "i2" => i16::from_le_bytes([b[0], b[1]]) as f64,
        "i4" => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        "i8" => i64::from_le_bytes(b) as f64,
        "u4" => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        "u8" => u64::from_le_bytes(b) as f64,
        "u2" => u16::from_le_bytes([b[0], b[1]]) as f64,
        _ => b[0] as f64, // u1, b1
    }
}

/// Interprets the pickle `data`; `file` names it in every error.
pub fn parse(data: &[u8], file: &str) -> anyhow::Result<Pickle> {
    Machine {
        file,
        data,
        pos: 0,
        objects: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Default::default(),
        at: 0,
        op: 0,
    }
    .run()
}

#[cfg(test)]
pub(crate) mod write {
    //! A writer for the same subset, for tests: arrays, CSR matrices and adjacency dicts.

    pub fn header() -> Vec<u8> {
        vec![0x80, 2]
    }
    pub fn short_str(out: &mut Vec<u8>, s: &[u8]) {
        if s.len() < 256 {
            out.push(b'U');
            out.push(s.len() as u8);
        } else {
            out.push(b'T');
            out.extend((s.len() as u32).to_le_bytes());
        }
        out.extend(s);
    }
    pub fn int(out: &mut Vec<u8>, v: i64) {
        out.push(b'J');
        out.extend((v as i32).to_le_bytes());
    }
    /// An ndarray of i4 (little-endian) or f4 values, as numpy pickles it.
    pub fn array(out: &mut Vec<u8>, shape: &[usize], code: &str, bytes: &[u8]) {
        out.extend(b"cnumpy.core.multiarray\n_reconstruct\n");
        out.extend(b"cnumpy\nndarray\n");
        int(out, 0);
        out.push(0x85);
        short_str(out, b"b");
        out.push(0x87);
        out.push(b'R');
        out.push(b'(');
        int(out, 1);
        out.push(b'(');
        for &d in shape {
            int(out, d as i64);
        }
        out.push(b't');
        out.extend(b"cnumpy\ndtype\n");
        short_str(out, code.as_bytes());
        int(out, 0);
        int(out, 1);
        out.push(0x87);
        out.push(b'R');
        out.push(b'(');
        int(out, 3);
        short_str(out, b"<");
        out.extend(b"NNN");
        int(out, -1);
        int(out, -1);
        int(out, 0);
        out.push(b't');
        out.push(b'b');
        out.push(0x89);
        short_str(out, bytes);
        out.push(b't');
        out.push(b'b');
    }
    pub fn f4(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
    pub fn i4(v: &[i32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
    /// A scipy CSR matrix of float32 values.
    pub fn csr(rows: usize, cols: usize, indptr: &[i32], indices: &[i32], data: &[f32]) -> Vec<u8> {
        let mut o = header();
        o.extend(b"cscipy.sparse.csr\ncsr_matrix\n");
        o.push(b')');
        o.push(0x81);
        o.push(b'}');
        o.push(b'(');
        short_str(&mut o, b"format");
        short_str(&mut o, b"csr");
        short_str(&mut o, b"_shape");
        int(&mut o, rows as i64);
        int(&mut o, cols as i64);
        o.push(0x86);
        short_str(&mut o, b"indptr");
        array(&mut o, &[indptr.len()], "i4", &i4(indptr));
        short_str(&mut o, b"indices");
        array(&mut o, &[indices.len()], "i4", &i4(indices));
        short_str(&mut o, b"data");
        array(&mut o, &[data.len()], "f4", &f4(data));
        o.push(b'u');
        o.push(b'b');
        o.push(b'.');
        o
    }
    /// A dense 2-D array of i4 values (one-hot labels).
    pub fn dense(rows: usize, cols: usize, v: &[i32]) -> Vec<u8> {
        let mut o = header();
        array(&mut o, &[rows, cols], "i4", &i4(v));
        o.push(b'.');
        o
    }
    /// defaultdict(list) of adjacency lists.
    pub fn graph(adj: &[(i64, Vec<i64>)]) -> Vec<u8> {
        let mut o = header();
        o.extend(b"ccollections\ndefaultdict\n");
        o.extend(b"c__builtin__\nlist\n");
        o.push(0x85);
        o.push(b'R');
        o.push(b'(');
        for (k, vs) in adj {
            int(&mut o, *k);
            o.push(b']');
            o.push(b'(');
            for v in vs {
                int(&mut o, *v);
            }
            o.push(b'e');
        }
        o.push(b'u');
        o.push(b'.');
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(data: &[u8]) -> String {
        format!("{:#}", parse(data, "ind.test.x").err().expect("refused"))
    }

    #[test]
    fn written_csr_reads_back() {
        let b = write::csr(2, 3, &[0, 1, 3], &[2, 0, 1], &[1.0, 0.5, 2.0]);
        let p = parse(&b, "f").unwrap();
        let Value::Csr(Some(state)) = p.get(p.root) else {
            panic!()
        };
        let data = p.array(p.dict_get(*state, "data").unwrap()).unwrap();
        assert_eq!(data.data, vec![1.0, 0.5, 2.0]);
        let ind = p.array(p.dict_get(*state, "indices").unwrap()).unwrap();
        assert_eq!(
            (ind.shape.clone(), ind.data.clone()),
            (vec![3], vec![2.0, 0.0, 1.0])
        );
    }

    #[test]
    fn a_foreign_global_is_refused_by_name_and_never_run() {
        let mut b = write::header();
        b.extend(b"cos\nsystem\n");
        write::short_str(&mut b, b"echo hi");
        b.extend([0x85, b'R', b'.']);
        let e = err(&b);
        assert!(
            e.contains("ind.test.x") && e.contains("global os.system") && e.contains("GLOBAL"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_opcode_is_named_with_its_offset() {
        let mut b = write::header();
        b.push(b'P'); // PERSID
        let e = err(&b);
        assert!(e.contains("PERSID") && e.contains("at byte 2"), "{e}");
    }

    #[test]
    fn a_length_beyond_the_file_is_refused_without_allocating() {
        let mut b = write::header();
        b.push(b'T');
        b.extend(u32::MAX.to_le_bytes());
        let e = err(&b);
        assert!(e.contains("ends early") && e.contains("4294967295"), "{e}");
    }

    #[test]
    fn an_array_whose_shape_disagrees_with_its_bytes_is_refused() {
        let mut b = write::header();
        write::array(&mut b, &[1 << 40, 1 << 30], "f4", &write::f4(&[1.0]));
        b.push(b'.');
        let e = err(&b);
        assert!(e.contains("overflows") || e.contains("needs"), "{e}");
        let mut b = write::header();
        write::array(&mut b, &[3], "f4", &write::f4(&[1.0]));
        b.push(b'.');
        assert!(err(&b).contains("needs 12 bytes, the data has 4"));
    }

    #[test]
    fn big_endian_arrays_are_decoded_by_their_byte_order() {
        let mut b = write::header();
        write::array(&mut b, &[2], "i4", &write::i4(&[1, 2]));
        b.push(b'.');
        // Flip the byte order mark and the data's bytes.
        let pos = b.windows(3).position(|w| w == [b'U', 1, b'<']).unwrap();
        b[pos + 2] = b'>';
        let n = b.len();
        let data = &mut b[n - 11..n - 3];
        data.copy_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
        let p = parse(&b, "f").unwrap();
        assert_eq!(p.array(p.root).unwrap().data, vec![1.0, 2.0]);
    }

    /// Random bytes, truncations at every byte and single-byte mutations of written files never
    /// panic, and every refusal names the file.
    #[test]
    fn fuzzed_inputs_fail_cleanly() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let good = [
            write::csr(2, 3, &[0, 1, 3], &[2, 0, 1], &[1.0, 0.5, 2.0]),
            write::dense(2, 2, &[1, 0, 0, 1]),
            write::graph(&[(0, vec![1, 2]), (1, vec![0]), (2, vec![])]),
        ];
        let check = |b: &[u8]| {
            if let Err(e) = parse(b, "ind.fuzz.x") {
                assert!(format!("{e:#}").contains("ind.fuzz.x"), "{e:#}");
            }
        };
        for g in &good {
            for cut in 0..g.len() {
                check(&g[..cut]);
            }
            for _ in 0..2000 {
                let mut m = g.clone();
                let k = rng.random_range(0..m.len());
                m[k] = rng.random();
                check(&m);
            }
        }
        for _ in 0..3000 {
            let n = rng.random_range(0..64);
            let mut b: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            if rng.random_bool(0.5) {
                b.splice(0..0, [0x80, 2]);
            }
            check(&b);
        }
    }
}
