// npm_interop.js: interoperability with npm raptorq 1.7.24 (cberner/raptorq
// 1.7 as WebAssembly), several source blocks and sub-blocks, both directions,
// printed as TAP.  Run by test/interop/run.sh, which installs the package
// into test/interop/node_modules and builds test/interop/bin/rq_tool (our
// coder as a command).
//
// raptorq 1.7 chooses the OTI itself (Encoder.with_defaults(data, mtu)) and
// does not say which: the OTI is derived here the way it documents, RFC 6330
// section 4.3 with WS = 10 MiB, SS = 8 and Al = 8 (SS = Al = 1 below a
// 64-byte packet).  Its repair ESIs count from K' (the padded block size)
// where RFC 6330's count from K: its ESI X >= K' is our ESI X - (K' - K), the
// same symbol (the same ISI).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
let rq;	// the package is an ES module: loaded by import() in main()

const dir = __dirname;
const tool = path.join(dir, 'bin', 'rq_tool');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rq-interop-'));
let n = 0, failed = 0;
function ok(cond, what) {
    n++;
    if (!cond) failed++;
    console.log(`${cond ? '' : 'not '}ok ${n} - ${what}`);
}

// K' of RFC 6330 Table 2 (read from our source: the numbers are the RFC's)
const table = fs.readFileSync(path.join(dir, '..', '..', 'src', 'rq_tables.c'), 'utf8')
    .split('rq_systematic[RQ_N_SYSTEMATIC] = {')[1];
const kprimes = [...table.matchAll(/\{(\d+), \d+, \d+, \d+, \d+\}/g)].map(m => +m[1]);
const kprime = k => kprimes.find(x => x >= k);
const ceil = (a, b) => Math.ceil(a / b);

function defaultOti(F, mtu) {
    const [al, ss] = mtu >= 64 ? [8, 8] : [1, 1];
    const T = mtu - (mtu % al);
    const Kt = ceil(F, T);
    const nmax = Math.floor(T / (ss * al));
    const kl = nn => { const x = ceil(T, al * nn); return [...kprimes].reverse().find(k => k <= Math.floor(10485760 / (al * x))); };
    const Z = ceil(Kt, kl(nmax));
    let N = 1;
    for (let i = 1; i <= nmax; i++) { N = i; if (ceil(Kt, Z) <= kl(i)) break; }
    return { F, T, Z, N, al };
}
function otiHex(o) {
    const b = Buffer.alloc(12);
    b.writeUIntBE(o.F, 0, 5); b.writeUInt16BE(o.T, 6); b[8] = o.Z; b.writeUInt16BE(o.N, 9); b[11] = o.al;
    return b.toString('hex');
}
function blockK(o, sbn) {
    const Kt = ceil(o.F, o.T), KL = ceil(Kt, o.Z), KS = Math.floor(Kt / o.Z), ZL = Kt - KS * o.Z;
    return sbn < ZL ? KL : KS;
}
const pid = p => [p[0], (p[1] << 16) | (p[2] << 8) | p[3]];
function withEsi(p, esi) { const q = Buffer.from(p); q[1] = esi >> 16; q[2] = (esi >> 8) & 255; q[3] = esi & 255; return q; }

function shape(F, mtu, repair, lose) {
    const o = defaultOti(F, mtu);
    const label = `F = ${F}, T = ${o.T}, Z = ${o.Z}, N = ${o.N}, Al = ${o.al}`;
    const data = Buffer.alloc(F);
    for (let i = 0; i < F; i++) data[i] = (i * 7 + (i >> 8) * 13 + 1) & 255;

    // theirs, in our numbering
    const enc = rq.Encoder.with_defaults(new Uint8Array(data), mtu);
    const theirs = enc.encode(repair).map(p => {
        const [sbn, esi] = pid(p), K = blockK(o, sbn), Kp = kprime(K);
        return esi >= K ? withEsi(p, esi - (Kp - K)) : Buffer.from(p);
    });
    enc.free();

    // ours
    fs.writeFileSync(path.join(tmp, 'data'), data);
    execFileSync(tool, ['encode', otiHex(o), String(repair), path.join(tmp, 'data'), path.join(tmp, 'ours')]);
    const all = fs.readFileSync(path.join(tmp, 'ours'));
    const size = 4 + o.T, ours = [];
    for (let j = 0; j < all.length; j += size) ours.push(all.subarray(j, j + size));
    const key = p => p.subarray(0, 4).toString('hex');
    const mine = new Map(ours.map(p => [key(p), p]));
    ok(theirs.length === ours.length && theirs.every(p => mine.has(key(p)) && mine.get(key(p)).equals(p)),
       `${label}: our ${ours.length} packets are byte-identical to raptorq 1.7.24's (repair ESIs mapped)`);

    // npm -> us: the first `lose` source packets of every block lost
    const keep = theirs.filter(p => pid(p)[1] >= lose);
    fs.writeFileSync(path.join(tmp, 'theirs'), Buffer.concat(keep));
    let decoded = null;
    try {
        execFileSync(tool, ['decode', otiHex(o), path.join(tmp, 'theirs'), path.join(tmp, 'out')]);
        decoded = fs.readFileSync(path.join(tmp, 'out'));
    } catch (e) { /* reported below */ }
    ok(decoded !== null && decoded.equals(data), `${label}: we decode raptorq 1.7.24's packets, ${lose} source packets per block lost`);

    // us -> npm: its decoder, from our packets (repair ESIs mapped back), the same loss
    const dec = rq.Decoder.with_defaults(BigInt(F), mtu);
    let result;
    for (const p of ours.filter(p => pid(p)[1] >= lose)) {
        const [sbn, esi] = pid(p), K = blockK(o, sbn), Kp = kprime(K);
        result = dec.decode(new Uint8Array(esi >= K ? withEsi(p, esi + (Kp - K)) : p));
        if (result !== undefined) break;
    }
    dec.free();
    ok(result !== undefined && Buffer.from(result).equals(data), `${label}: raptorq 1.7.24 decodes our packets, the same loss`);
}

async function main() {
    const pkg = path.join(dir, 'node_modules', 'raptorq');
    rq = await import(path.join(pkg, 'raptorq.js'));
    rq.initSync(fs.readFileSync(path.join(pkg, 'raptorq_bg.wasm')));
    console.log('1..9');
    shape(10000, 1024, 20, 15);       // one block, one sub-block, Al = 8
    shape(4000000, 64, 30, 20);       // two source blocks of 31,250 symbols, Al = 8
    shape(12000000, 65535, 6, 3);     // one block, two sub-blocks of 32,764 bytes
    fs.rmSync(tmp, { recursive: true, force: true });
    process.exit(failed > 0 ? 1 : 0);
}
main();
