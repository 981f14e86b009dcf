#!/usr/bin/env node
// tb_check.js - reads TensorBoard event files with code that is not fmnist's:
// the TFRecord framing checked record by record (the masked CRC-32C of each
// length and of each record's data, with the crc-32 package's crc32c), each
// record decoded by protobufjs from the message definitions below (the
// fields fmnist writes, numbered as in TensorBoard's
// tensorboard/compat/proto/{event,summary,histogram}.proto), and the events
// printed.
//
//   node tools/tb_check.js [--lines] FILE|DIR...
//
// A DIR stands for its events.out.tfevents.* files, in name order (the order
// TensorBoard reads them in). Default output: one JSON object per event. With
// --lines, one line per fact, for the fmnist tests:
//   file PATH                        a file starts
//   version WALL STRING              a file_version event
//   scalar STEP WALL TAG VALUE       a simple_value
//   histo STEP TAG NUM MIN MAX SUM SUM_SQUARES NBUCKETS BUCKET_SUM ASCENDING
//   records N                        the file's records, every CRC good
// A bad CRC, a truncated record or an undecodable event is an error (exit 1,
// naming the file and the record). Exit 3: protobufjs or crc-32 is not
// installed (npm install --prefix tools/tbcheck --ignore-scripts protobufjs@7
// crc-32@1.2; tools/tbcheck/ is git-ignored); the tests then skip visibly.
'use strict';
const fs = require('fs');
const path = require('path');

function load(name) {
    const places = [process.env.FMNIST_TB_DIR && path.join(process.env.FMNIST_TB_DIR, 'node_modules', name),
                    path.join(__dirname, 'tbcheck', 'node_modules', name), name];
    for (const p of places) {
        if (!p) continue;
        try {
            return require(p);
        } catch (e) { /* the next place */ }
    }
    return null;
}

// The messages fmnist writes, with TensorBoard's field numbers.
const SCHEMA = `
syntax = "proto3";
package tbcheck;
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    Summary summary = 5;
  }
}
message Summary {
  repeated Value value = 1;
}
message Value {
  string tag = 1;
  oneof value {
    float simple_value = 2;
    Histogram histo = 5;
  }
}
message Histogram {
  double min = 1;
  double max = 2;
  double num = 3;
  double sum = 4;
  double sum_squares = 5;
  repeated double bucket_limit = 6 [packed = true];
  repeated double bucket = 7 [packed = true];
}
`;

function masked(crc32c, bytes) {
    const c = crc32c.buf(bytes, 0) >>> 0;
    return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function eventFiles(arg) {
    if (!fs.statSync(arg).isDirectory()) return [arg];
    return fs.readdirSync(arg).filter(n => n.includes('tfevents')).sort().map(n => path.join(arg, n));
}

function main() {
    const args = process.argv.slice(2);
    const lines = args.includes('--lines');
    const inputs = args.filter(a => a !== '--lines');
    if (!inputs.length) {
        console.error('usage: node tools/tb_check.js [--lines] FILE|DIR...');
        process.exit(2);
    }
    const protobuf = load('protobufjs'), crc32c = load('crc-32/crc32c');
    if (!protobuf || !crc32c) {
        console.error('tb_check: protobufjs or crc-32 is not installed ' +
                      '(npm install --prefix tools/tbcheck --ignore-scripts protobufjs@7 crc-32@1.2)');
        process.exit(3);
    }
    const Event = protobuf.parse(SCHEMA).root.lookupType('tbcheck.Event');
    for (const file of inputs.flatMap(eventFiles)) {
        const data = fs.readFileSync(file);
        if (lines) console.log(`file ${file}`);
        let off = 0, n = 0;
        const fail = msg => { throw new Error(`${file}: record ${n} at byte ${off}: ${msg}`); };
        while (off < data.length) {
            if (off + 12 > data.length) fail('truncated length');
            const lenBytes = data.subarray(off, off + 8);
            const len = Number(data.readBigUInt64LE(off));
            if (data.readUInt32LE(off + 8) !== masked(crc32c, lenBytes)) fail('bad CRC of the length');
            if (off + 12 + len + 4 > data.length) fail(`truncated data (${len} bytes announced)`);
            const body = data.subarray(off + 12, off + 12 + len);
            if (data.readUInt32LE(off + 12 + len) !== masked(crc32c, body)) fail('bad CRC of the data');
            let ev;
            try {
                ev = Event.toObject(Event.decode(body), {longs: String, defaults: true, oneofs: true});
            } catch (e) {
                fail(`not an Event: ${e.message}`);
            }
            if (!lines) {
                console.log(JSON.stringify({file: path.basename(file), ...ev}));
            } else if (ev.what === 'fileVersion') {
                console.log(`version ${ev.wallTime} ${ev.fileVersion}`);
            } else if (ev.what === 'summary') {
                for (const v of ev.summary.value) {
                    if (v.value === 'simpleValue') {
                        console.log(`scalar ${ev.step} ${ev.wallTime} ${v.tag} ${v.simpleValue}`);
                    } else if (v.value === 'histo') {
                        const h = v.histo;
                        const bsum = h.bucket.reduce((a, b) => a + b, 0);
                        const asc = h.bucketLimit.every((x, i) => i === 0 || x > h.bucketLimit[i - 1]) &&
                                    h.bucketLimit.length === h.bucket.length;
                        console.log(`histo ${ev.step} ${v.tag} ${h.num} ${h.min} ${h.max} ${h.sum} ${h.sumSquares} ` +
                                    `${h.bucket.length} ${bsum} ${asc ? 1 : 0}`);
                    } else {
                        fail(`value '${v.tag}' holds neither a simple_value nor a histogram`);
                    }
                }
            } else {
                fail('an event with neither file_version nor summary');
            }
            off += 12 + len + 4;
            n++;
        }
        if (lines) console.log(`records ${n}`);
    }
}

try {
    main();
} catch (e) {
    console.error(`tb_check: ${e.message || e}`);
    process.exit(1);
}
