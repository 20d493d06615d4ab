// raptorq_npm.js: the npm raptorq 1.7.24 side of bench/raptorq.sh (cberner's
// raptorq 1.7 compiled to WebAssembly, run by node).
//
//   node bench/raptorq_npm.js SIZE MTU SECONDS [Z]
//
// Encode: Encoder.with_defaults(data, MTU).encode(ceil(K / 10)) (it chooses
// its own OTI); decode: a Decoder from those packets with the first
// ceil(K / 10) source packets of every block lost (Z: the number of source
// blocks its OTI has, so that K is per block).  Prints
// "ENCODE_MBps DECODE_MBps", each the best of three runs of about SECONDS.
'use strict';
const fs = require('fs');
const path = require('path');

function best(op, size, seconds) {
    let top = 0;
    for (let run = 0; run < 3; run++) {
        let n = 0;
        const t0 = process.hrtime.bigint();
        let t;
        do {
            op();
            n++;
            t = Number(process.hrtime.bigint() - t0) / 1e9;
        } while (t < seconds);
        top = Math.max(top, size * n / t / 1e6);
    }
    return top;
}

async function main() {
    const [size, mtu, seconds, blocks] = process.argv.slice(2).map(Number);
    const pkg = path.join(__dirname, '..', 'test', 'interop', 'node_modules', 'raptorq');
    const rq = await import(path.join(pkg, 'raptorq.js'));
    rq.initSync(fs.readFileSync(path.join(pkg, 'raptorq_bg.wasm')));
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (Math.imul(i, 2654435761) >>> 13) & 255;
    const K = Math.ceil(Math.ceil(size / mtu) / (blocks || 1));
    const repair = Math.ceil(K / 10);
    const encode = () => {
        const e = rq.Encoder.with_defaults(data, mtu);
        const p = e.encode(repair);
        e.free();
        return p;
    };
    const packets = encode();
    const lost = repair;
    const kept = packets.filter(p => ((p[1] << 16) | (p[2] << 8) | p[3]) >= lost);
    const decode = () => {
        const d = rq.Decoder.with_defaults(BigInt(size), mtu);
        let out;
        for (const p of kept) {
            out = d.decode(p);
            if (out !== undefined) break;
        }
        d.free();
        if (out === undefined || out.length !== size) throw new Error('decode failed');
        return out;
    };
    const check = decode();
    for (let i = 0; i < size; i += 4099) if (check[i] !== data[i]) throw new Error('decode check failed');
    console.log(`${best(encode, size, seconds).toFixed(1)} ${best(decode, size, seconds).toFixed(1)}`);
}
main();
