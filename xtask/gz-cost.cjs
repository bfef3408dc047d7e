// The gzip cost of each function of a wasm module: the module's gzip -9 size minus its size with
// that one body replaced by `unreachable`. A measuring aid for ARCHITECTURE.md "Size": gzip
// shares text across functions, so raw sizes mislead. Names come from the name section, so run
// it on `wasm-opt -Oz -g` output of target/xtask/oidc_session_bg.unoptimized.wasm:
//   node xtask/gz-cost.cjs /tmp/opt_g.wasm [rows]
const fs = require("fs");
const zlib = require("zlib");

const wasm = fs.readFileSync(process.argv[2]);
const rows = Number(process.argv[3] || 60);

function readLeb(buf, at) {
  let n = 0;
  let shift = 0;
  let byte;
  do {
    byte = buf[at++];
    n += (byte & 127) * 2 ** shift;
    shift += 7;
  } while (byte & 128);
  return [n, at];
}

function leb(n) {
  const out = [];
  do {
    let byte = n & 127;
    n = Math.floor(n / 128);
    if (n) byte |= 128;
    out.push(byte);
  } while (n);
  return Buffer.from(out);
}

function readName(at) {
  const [len, start] = readLeb(wasm, at);
  return [wasm.subarray(start, start + len).toString(), start + len];
}

// Sections: id, where the section starts, where its payload starts and ends.
const sections = [];
for (let at = 8; at < wasm.length; ) {
  const [size, body] = readLeb(wasm, at + 1);
  sections.push({ id: wasm[at], start: at, body, end: body + size });
  at = body + size;
}

// Function names (name section, subsection 1), by function index.
const names = {};
for (const s of sections.filter((s) => s.id === 0)) {
  let [name, at] = readName(s.body);
  if (name !== "name") continue;
  while (at < s.end) {
    const kind = wasm[at];
    const [size, body] = readLeb(wasm, at + 1);
    if (kind === 1) {
      let [count, p] = readLeb(wasm, body);
      for (let i = 0; i < count; i++) {
        let index;
        [index, p] = readLeb(wasm, p);
        [names[index], p] = readName(p);
      }
    }
    at = body + size;
  }
}

// Imported functions come first in the index space.
let imported = 0;
const imports = sections.find((s) => s.id === 2);
if (imports) {
  let [count, p] = readLeb(wasm, imports.body);
  for (let i = 0; i < count; i++) {
    [, p] = readName(p);
    [, p] = readName(p);
    const kind = wasm[p++];
    if (kind === 0) {
      imported++;
      [, p] = readLeb(wasm, p);
    } else if (kind === 1) {
      p++;
      const flags = wasm[p++];
      [, p] = readLeb(wasm, p);
      if (flags & 1) [, p] = readLeb(wasm, p);
    } else if (kind === 2) {
      const flags = wasm[p++];
      [, p] = readLeb(wasm, p);
      if (flags & 1) [, p] = readLeb(wasm, p);
    } else if (kind === 3) {
      p += 2;
    }
  }
}

const code = sections.find((s) => s.id === 10);
const bodies = [];
{
  let [count, p] = readLeb(wasm, code.body);
  for (let i = 0; i < count; i++) {
    const [size, body] = readLeb(wasm, p);
    bodies.push(wasm.subarray(body, body + size));
    p = body + size;
  }
}

// The module without its name section, with `bodies` as its code.
const before = wasm.subarray(0, code.start);
const after = Buffer.concat(
  sections.filter((s) => s.start > code.start && s.id !== 0).map((s) => wasm.subarray(s.start, s.end)),
);
function module(bodies) {
  const payload = Buffer.concat([leb(bodies.length), ...bodies.flatMap((b) => [leb(b.length), b])]);
  return Buffer.concat([before, Buffer.from([10]), leb(payload.length), payload, after]);
}
const gzip = (buf) => zlib.gzipSync(buf, { level: 9 }).length;

const total = gzip(module(bodies));
const unreachable = Buffer.from([0, 0x00, 0x0b]); // no locals, `unreachable`, `end`
const costs = bodies.map((body, i) => {
  const without = bodies.slice();
  without[i] = unreachable;
  const name = (names[i + imported] || `f${i + imported}`).replace(/\[[0-9a-f]+\]/g, "");
  return { gzip: total - gzip(module(without)), raw: body.length, name };
});
costs.sort((a, b) => b.gzip - a.gzip);
console.log(`module without names: ${total} B gzip`);
console.log("gzip cost  raw  function");
for (const c of costs.slice(0, rows)) {
  console.log(`${String(c.gzip).padStart(9)} ${String(c.raw).padStart(5)}  ${c.name.slice(0, 140)}`);
}
console.log(`sum of the costs: ${costs.reduce((sum, c) => sum + c.gzip, 0)} B`);
