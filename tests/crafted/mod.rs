//! Hostile files made to measure, shared by the bounded-parsing tests (library and CLI) and the
//! `crafted` fuzz target: `.tflite` flatbuffers whose vectors point many entries at one table or
//! nest tables in a long chain, and `.npy`/`.safetensors` headers with overflowing shapes or
//! huge counts. Each must be refused (or read) after work linear in its size.
#![allow(dead_code)] // each includer uses a part

/// A forward-only flatbuffer writer: tables and vectors are appended, offsets patched in later
/// (a flatbuffer offset is unsigned, so it always points further into the file).
pub struct Flatbuffer {
    pub buf: Vec<u8>,
}

impl Flatbuffer {
    /// A buffer with the root offset to patch at byte 0 and the `TFL3` identifier.
    pub fn new() -> Self {
        Flatbuffer { buf: b"\0\0\0\0TFL3".to_vec() }
    }

    fn word(&mut self, w: u32) {
        self.buf.extend_from_slice(&w.to_le_bytes());
    }

    /// Appends a vtable and then a table of 4-byte fields, given as `(slot, value)`; returns the
    /// table's position and each field's position (for [`Flatbuffer::point`]).
    pub fn table(&mut self, fields: &[(usize, u32)]) -> (usize, Vec<usize>) {
        let slots = fields.iter().map(|&(s, _)| s + 1).max().unwrap_or(0);
        let vtable = self.buf.len();
        let vt_len = 4 + 2 * slots;
        let mut vt = vec![0u16; 2 + slots];
        vt[0] = vt_len as u16;
        vt[1] = (4 + 4 * fields.len()) as u16;
        for (k, &(slot, _)) in fields.iter().enumerate() {
            vt[2 + slot] = (4 + 4 * k) as u16;
        }
        for v in vt {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
        let table = self.buf.len();
        self.word((table - vtable) as u32);
        let mut at = Vec::new();
        for &(_, value) in fields {
            at.push(self.buf.len());
            self.word(value);
        }
        (table, at)
    }

    /// Appends a vector of 4-byte words; returns its position and where its first word is.
    pub fn vector(&mut self, words: &[u32]) -> (usize, usize) {
        let pos = self.buf.len();
        self.word(words.len() as u32);
        for &w in words {
            self.word(w);
        }
        (pos, pos + 4)
    }

    /// Writes at `slot` the offset to `target` (which comes after it).
    pub fn point(&mut self, slot: usize, target: usize) {
        let off = (target - slot) as u32;
        self.buf[slot..slot + 4].copy_from_slice(&off.to_le_bytes());
    }

    /// Points `n` consecutive vector entries from `first` at `target`.
    pub fn point_all(&mut self, first: usize, n: usize, target: usize) {
        for e in 0..n {
            self.point(first + 4 * e, target);
        }
    }
}

/// The counts of [`tflite_shared`]: how many entries each vector has, every entry of a vector
/// pointing at one table (or naming tensor 0).
#[derive(Debug, Clone, Copy)]
pub struct Shared {
    pub subgraphs: usize,
    pub tensors: usize,
    pub operators: usize,
    pub inputs: usize,
    /// Entries of the subgraph's output list (each naming tensor 0).
    pub outputs: usize,
}

/// A `.tflite` model of one RELU on one int8 `[1, 4]` tensor, whose vectors repeat entries:
/// `subgraphs` entries for one subgraph, `tensors` for one tensor, `operators` for one operator,
/// `inputs` input indices 0 and `outputs` graph outputs 0. A few bytes per entry, but a reader that walks every entry of
/// every vector it reaches does `subgraphs * operators * inputs` look-ups.
pub fn tflite_shared(n: Shared) -> Vec<u8> {
    let mut fb = Flatbuffer::new();
    // Model: version, operator_codes, subgraphs, buffers.
    let (model, mf) = fb.table(&[(0, 3), (1, 0), (2, 0), (4, 0)]);
    fb.point(0, model);
    let (codes, code_entry) = fb.vector(&[0]);
    fb.point(mf[1], codes);
    let (code, _) = fb.table(&[(2, 1), (3, 19)]); // version 1, builtin RELU
    fb.point(code_entry, code);
    let (buffers, buffer_entry) = fb.vector(&[0]);
    fb.point(mf[3], buffers);
    let (buffer, _) = fb.table(&[]);
    fb.point(buffer_entry, buffer);
    let (subgraphs, sg_entries) = fb.vector(&vec![0; n.subgraphs]);
    fb.point(mf[2], subgraphs);
    // SubGraph: tensors, inputs, outputs, operators.
    let (sg, sgf) = fb.table(&[(0, 0), (1, 0), (2, 0), (3, 0)]);
    fb.point_all(sg_entries, n.subgraphs, sg);
    let (tensors, tensor_entries) = fb.vector(&vec![0; n.tensors]);
    fb.point(sgf[0], tensors);
    // Tensor: shape, type int8, buffer 0.
    let (tensor, tf) = fb.table(&[(0, 0), (1, 9), (2, 0)]);
    fb.point_all(tensor_entries, n.tensors, tensor);
    let (shape, _) = fb.vector(&[1, 4]);
    fb.point(tf[0], shape);
    let (inputs, _) = fb.vector(&[0]);
    fb.point(sgf[1], inputs);
    let (outputs, _) = fb.vector(&vec![0; n.outputs]);
    fb.point(sgf[2], outputs);
    let (operators, op_entries) = fb.vector(&vec![0; n.operators]);
    fb.point(sgf[3], operators);
    // Operator: opcode_index 0, inputs, outputs.
    let (op, of) = fb.table(&[(0, 0), (1, 0), (2, 0)]);
    fb.point_all(op_entries, n.operators, op);
    let (op_inputs, _) = fb.vector(&vec![0; n.inputs]);
    fb.point(of[1], op_inputs);
    let (op_outputs, _) = fb.vector(&[0]);
    fb.point(of[2], op_outputs);
    fb.buf
}

/// A `.tflite` buffer of `depth` tables in a chain: every field of each table (slots 0 to 7)
/// points at the next table, the last one's fields are zero.
pub fn tflite_chain(depth: usize) -> Vec<u8> {
    let mut fb = Flatbuffer::new();
    let fields: Vec<(usize, u32)> = (0..8).map(|s| (s, 0)).collect();
    let mut slots = vec![0];
    for _ in 0..depth {
        let (table, at) = fb.table(&fields);
        for &s in &slots {
            fb.point(s, table);
        }
        slots = at;
    }
    fb.buf
}

/// A version-1 `.npy` with this Python-literal `shape` tuple, f32, and `data` after the header.
pub fn npy(shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut file = b"\x93NUMPY\x01\x00".to_vec();
    file.extend_from_slice(&(header.len() as u16).to_le_bytes());
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(data);
    file
}

/// A version-2 `.npy` whose 4-byte header length claims `claimed` bytes, followed by `present`
/// bytes of spaces.
pub fn npy_long_header(claimed: u32, present: usize) -> Vec<u8> {
    let mut file = b"\x93NUMPY\x02\x00".to_vec();
    file.extend_from_slice(&claimed.to_le_bytes());
    file.resize(file.len() + present, b' ');
    file
}

/// A `.safetensors` file of this JSON header and data section.
pub fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(data);
    file
}

/// A `.safetensors` header whose `__metadata__` nests `depth` arrays.
pub fn safetensors_nested(depth: usize) -> Vec<u8> {
    let header = format!("{{\"__metadata__\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    safetensors(&header, &[])
}
