//! `Checkpoint::read` on arbitrary bytes, and `Checkpoint::write` then `read` on arbitrary
//! checkpoints.
//!
//! Every input is used three ways:
//! 1. as a whole file, which almost never passes the FNV-1a check;
//! 2. as a body sealed here with its FNV-1a 64 hash, so the fuzzer reaches the magic, count
//!    and length checks and the decoding behind them;
//! 3. as an `arbitrary` checkpoint, written, read back and then damaged.
//!
//! Properties (STYLE R11, R27):
//! * no panic, and every error is `InvalidParameter { name: "checkpoint" }`;
//! * no allocation beyond what the input holds: a count is checked against the bytes before
//!   anything is allocated, so a header that claims 2⁶¹ values is refused (libFuzzer's
//!   `-malloc_limit_mb`, by default `-rss_limit_mb` = 2048, turns a huge allocation into a
//!   crash);
//! * a sealed body is accepted exactly when the documented format says it should be (magic
//!   `IPCKPT02` and `72 + 4·(params + state + order + pool) == body length`, or the first
//!   format, `IPCKPT01` and `64 + 4·(params + state + order)`), and the header fields decode
//!   at the documented offsets;
//! * an accepted input is canonical: `write` gives back exactly those bytes (a first-format
//!   file: the same fields in the current format, with no pooled values), `encoded_len()` is
//!   their length, and `write` appends after whatever `out` held;
//! * `read(write(c))` is `c`, with `f32` compared by bits (NaN payloads and −0.0 included);
//! * a flipped byte, a truncation or a byte too many is refused.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use infoplane_core::Error;
use infoplane_core::experiment::{CHECKPOINT_MAGIC, Checkpoint};
use libfuzzer_sys::fuzz_target;

/// Magic, seed, epoch, epochs trained, steps, draws and four counts (the documented header).
const HEAD: usize = 72;
/// The first format's header: three counts.
const HEAD_V1: usize = 64;
const MAGIC_V1: &[u8; 8] = b"IPCKPT01";
/// The trailing FNV-1a 64 hash.
const HASH: usize = 8;
const BAD: Error = Error::InvalidParameter { name: "checkpoint" };

/// An arbitrary checkpoint and the damage to do to its encoding.
#[derive(Debug, Arbitrary)]
struct Input {
    seed: u64,
    epoch: u32,
    epochs_done: u32,
    step: u64,
    shuffle_draws: u64,
    /// `f32` bit patterns: every NaN payload, ±0, subnormals, ±∞.
    params: Vec<u32>,
    state: Vec<u32>,
    order: Vec<u32>,
    pool: Vec<u32>,
    /// Which byte to flip, and with what (0 becomes 0x80).
    flip_at: u32,
    flip_with: u8,
    /// Where to cut the encoding short.
    cut: u32,
    /// A count (0 to 3) to overwrite with `claim` before sealing the body again.
    claim_at: u8,
    claim: u64,
    /// Bytes already in the output vector before `write` appends.
    prefix: u8,
}

/// FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3), from its definition.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// `body` followed by its hash: a file whose only possible fault is its body.
fn sealed(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + HASH);
    v.extend_from_slice(body);
    v.extend_from_slice(&fnv1a64(body).to_le_bytes());
    v
}

/// Whether the documented format accepts `body` (the bytes before the hash).
fn documented_ok(body: &[u8]) -> bool {
    let (head, counts): (usize, &[usize]) = if body.get(..8) == Some(&CHECKPOINT_MAGIC[..]) {
        (HEAD, &[40, 48, 56, 64])
    } else if body.get(..8) == Some(&MAGIC_V1[..]) {
        (HEAD_V1, &[40, 48, 56])
    } else {
        return false;
    };
    if body.len() < head {
        return false;
    }
    // u128: four u64 counts times four cannot overflow it.
    let values: u128 = counts.iter().map(|&at| u128::from(le_u64(body, at))).sum();
    (head as u128) + 4 * values == body.len() as u128
}

/// A first-format file in the current format: the new magic, a pooled count of 0 after the
/// three counts, the same values and a new hash.
fn upgraded(v1: &[u8]) -> Vec<u8> {
    let body = &v1[..v1.len() - HASH];
    let mut out = CHECKPOINT_MAGIC.to_vec();
    out.extend_from_slice(&body[8..HEAD_V1]);
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&body[HEAD_V1..]);
    sealed(&out)
}

/// The properties of an accepted file: canonical, appended as is, fields where documented.
fn check_accepted(c: &Checkpoint, file: &[u8], prefix: u8) {
    if file.get(..8) == Some(&MAGIC_V1[..]) {
        assert!(c.pool.is_empty(), "a first-format file has pooled values");
        return check_accepted(c, &upgraded(file), prefix);
    }
    assert_eq!(c.encoded_len(), file.len(), "encoded_len() != input length");
    let mut out = Vec::new();
    c.write(&mut out);
    assert!(out == file, "write(read(bytes)) != bytes");
    let pre = vec![prefix; usize::from(prefix % 17)];
    let mut appended = pre.clone();
    c.write(&mut appended);
    assert!(
        appended.get(..pre.len()) == Some(&pre[..]) && appended.get(pre.len()..) == Some(file),
        "write with {} bytes already in `out` did not append the same encoding",
        pre.len()
    );
    assert_eq!(c.seed, le_u64(file, 8), "seed not at offset 8");
    assert_eq!(c.epoch, le_u32(file, 16), "epoch not at offset 16");
    assert_eq!(
        c.epochs_done,
        le_u32(file, 20),
        "epochs trained not at offset 20"
    );
    assert_eq!(c.step, le_u64(file, 24), "steps not at offset 24");
    assert_eq!(c.shuffle_draws, le_u64(file, 32), "draws not at offset 32");
    let counts = [c.params.len(), c.state.len(), c.order.len(), c.pool.len()];
    for (i, n) in counts.into_iter().enumerate() {
        assert_eq!(
            n as u64,
            le_u64(file, 40 + 8 * i),
            "count {i} not at its offset"
        );
    }
    let payload = c
        .params
        .iter()
        .chain(&c.state)
        .map(|v| v.to_bits())
        .chain(c.order.iter().copied())
        .chain(c.pool.iter().map(|v| v.to_bits()));
    for (i, v) in payload.enumerate() {
        assert_eq!(v, le_u32(file, HEAD + 4 * i), "value {i} not at its offset");
    }
}

/// Reads a sealed body and compares the verdict with the documented format.
fn check_sealed(body: &[u8], prefix: u8) {
    let file = sealed(body);
    match Checkpoint::read(&file) {
        Ok(c) => {
            assert!(documented_ok(body), "accepted a body the format refuses");
            check_accepted(&c, &file, prefix);
        }
        Err(e) => {
            assert_eq!(e, BAD, "unexpected error");
            assert!(!documented_ok(body), "refused a well-formed sealed body");
        }
    }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn round_trip(input: &Input) {
    let c = Checkpoint {
        seed: input.seed,
        epoch: input.epoch,
        epochs_done: input.epochs_done,
        step: input.step,
        shuffle_draws: input.shuffle_draws,
        params: input.params.iter().map(|&b| f32::from_bits(b)).collect(),
        state: input.state.iter().map(|&b| f32::from_bits(b)).collect(),
        order: input.order.clone(),
        pool: input.pool.iter().map(|&b| f32::from_bits(b)).collect(),
    };
    let mut bytes = Vec::new();
    c.write(&mut bytes);
    assert_eq!(
        bytes.len(),
        c.encoded_len(),
        "encoded_len() != written length"
    );
    assert_eq!(bytes.get(..8), Some(&CHECKPOINT_MAGIC[..]), "no magic");
    let back = Checkpoint::read(&bytes).unwrap_or_else(|e| panic!("own encoding refused: {e:?}"));
    assert!(
        back.seed == c.seed
            && back.epoch == c.epoch
            && back.epochs_done == c.epochs_done
            && back.step == c.step
            && back.shuffle_draws == c.shuffle_draws
            && same_bits(&back.params, &c.params)
            && same_bits(&back.state, &c.state)
            && back.order == c.order
            && same_bits(&back.pool, &c.pool),
        "read(write(c)) != c: {back:?} vs {c:?}"
    );
    check_accepted(&back, &bytes, input.prefix);

    let len = bytes.len();
    let at = input.flip_at as usize % len;
    let mut flipped = bytes.clone();
    flipped[at] ^= if input.flip_with == 0 {
        0x80
    } else {
        input.flip_with
    };
    assert_eq!(
        Checkpoint::read(&flipped),
        Err(BAD),
        "byte {at} of {len} xor {:#04x} accepted",
        input.flip_with
    );
    let cut = input.cut as usize % len;
    assert_eq!(
        Checkpoint::read(&bytes[..cut]),
        Err(BAD),
        "cut to {cut} of {len} accepted"
    );
    let mut longer = bytes.clone();
    longer.push(input.flip_with);
    assert_eq!(
        Checkpoint::read(&longer),
        Err(BAD),
        "one byte too many accepted"
    );

    // A count that no longer matches the bytes, behind a valid hash: refused before any
    // allocation (or accepted, when the claim happens to fit).
    let mut body = bytes[..len - HASH].to_vec();
    let at = 40 + 8 * usize::from(input.claim_at % 4);
    body[at..at + 8].copy_from_slice(&input.claim.to_le_bytes());
    check_sealed(&body, input.prefix);
}

fuzz_target!(|data: &[u8]| {
    // 1. The input as a file.
    match Checkpoint::read(data) {
        Ok(c) => check_accepted(&c, data, data.first().copied().unwrap_or(0)),
        Err(e) => assert_eq!(e, BAD, "unexpected error"),
    }
    // 2. The input as a body, sealed with its hash.
    check_sealed(data, data.last().copied().unwrap_or(0));
    // 3. The input as an arbitrary checkpoint.
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        round_trip(&input);
    }
});
