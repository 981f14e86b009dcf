#!/usr/bin/env node
// onnx_check.js - runs an fmnist ONNX export in onnxruntime-node and prints
// the logits of IDX test images, one line per image ("K: z0 z1 ..."), so the
// fmnist test suite can compare them with its own forward pass.
//
//   node tools/onnx_check.js model.onnx t10k-images-idx3-ubyte.gz FIRST COUNT
//
// The runtime: `npm install --prefix tools/onnxrt --ignore-scripts onnxruntime-node`
// (its CPU library ships in the package; tools/onnxrt/ is git-ignored). Exit
// status 3 means the runtime is not installed (the tests then skip visibly).
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function loadRuntime() {
    const places = [process.env.FMNIST_ORT_DIR, path.join(__dirname, 'onnxrt', 'node_modules', 'onnxruntime-node'),
                    'onnxruntime-node'];
    for (const p of places) {
        if (!p) continue;
        try {
            return require(p);
        } catch (e) { /* try the next place */ }
    }
    return null;
}

function readIdxImages(file) {
    let data = fs.readFileSync(file);
    if (data[0] === 0x1f && data[1] === 0x8b) data = zlib.gunzipSync(data);
    if (data.readUInt32BE(0) !== 0x803) throw new Error(`${file}: not an IDX image file`);
    const n = data.readUInt32BE(4), rows = data.readUInt32BE(8), cols = data.readUInt32BE(12);
    return {n, rows, cols, pixels: data.subarray(16)};
}

async function main() {
    const [model, idx, first = '0', count = '1'] = process.argv.slice(2);
    if (!model || !idx) {
        console.error('usage: node tools/onnx_check.js MODEL.onnx IDX_IMAGES [FIRST] [COUNT]');
        process.exit(2);
    }
    const ort = loadRuntime();
    if (!ort) {
        console.error('onnx_check: onnxruntime-node is not installed ' +
                      '(npm install --prefix tools/onnxrt --ignore-scripts onnxruntime-node)');
        process.exit(3);
    }
    const im = readIdxImages(idx);
    const k0 = parseInt(first, 10), n = Math.min(parseInt(count, 10), im.n - k0);
    const hw = im.rows * im.cols;
    const x = new Float32Array(n * hw);
    for (let i = 0; i < n * hw; i++) x[i] = im.pixels[k0 * hw + i] / 255;  // pixels in [0, 1]
    const session = await ort.InferenceSession.create(model);
    const input = new ort.Tensor('float32', x, [n, 1, im.rows, im.cols]);
    const out = await session.run({input});
    const logits = out.logits;
    const k = logits.dims[1];
    console.log(`# onnxruntime-node ${ort.env.versions ? ort.env.versions.common : ''}: ` +
                `inputs ${session.inputNames}, outputs ${session.outputNames}, logits [${logits.dims}]`);
    for (let i = 0; i < n; i++) {
        const row = Array.from(logits.data.subarray(i * k, (i + 1) * k), v => v.toPrecision(9));
        console.log(`${k0 + i}: ${row.join(' ')}`);
    }
}

main().catch(e => {
    console.error(`onnx_check: ${e.message || e}`);
    process.exit(1);
});
