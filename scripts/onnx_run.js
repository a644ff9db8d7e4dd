#!/usr/bin/env node
// Runs an ONNX model exported by `knseg export` with ONNX Runtime (CPU), for the
// export tests and the benchmark.
// Usage: node scripts/onnx_run.js MODEL.onnx IN.npy OUT_LOGITS.npy [OUT_LABELS.npy]
//                                 [--threads N] [--time ITERS]
//   IN.npy: float32 '<f4', C order, fed to input "image"; writes output "logits" as
//   float32 .npy and, when OUT_LABELS is given, "labels" as int64 .npy.
//   --threads N: intra-op threads (default 1). --time ITERS: after one untimed warm-up,
//   times ITERS runs and prints one JSON line; the outputs are those of the last run.
//        node scripts/onnx_run.js --probe   (loads onnxruntime-node, prints its version)
// Exit codes: 0 ok, 1 error (one line on stderr), 2 usage, 77 onnxruntime-node missing.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const USAGE = 'usage: node scripts/onnx_run.js MODEL.onnx IN.npy OUT_LOGITS.npy ' +
	'[OUT_LABELS.npy] [--threads N] [--time ITERS]';

class Fail extends Error {}
function fail(file, problem) {
	throw new Fail(`onnx_run: ${file}: ${problem}`);
}

function parseArgs(argv) {
	const a = { files: [], threads: 1, iters: 0 };
	for (let i = 0; i < argv.length; i++) {
		const s = argv[i];
		if (s === '--threads' || s === '--time') {
			const v = argv[++i];
			if (v === undefined || !/^[1-9][0-9]*$/.test(v)) return null;
			if (s === '--threads') a.threads = Number(v);
			else a.iters = Number(v);
		} else if (s.startsWith('--')) {
			return null;
		} else {
			a.files.push(s);
		}
	}
	return a.files.length === 3 || a.files.length === 4 ? a : null;
}

// The header of a .npy file is a Python dict literal; this reads the subset numpy
// writes: quoted strings, True/False, integers and tuples of them.
function parseDict(s, file) {
	let i = 0;
	const ws = () => { while (i < s.length && /\s/.test(s[i])) i++; };
	const bad = () => fail(file, `malformed .npy header: ${s.trim()}`);
	const expect = (c) => { ws(); if (s[i] !== c) bad(); i++; };
	function value() {
		ws();
		const c = s[i];
		if (c === "'" || c === '"') {
			const end = s.indexOf(c, i + 1);
			if (end < 0) bad();
			const v = s.slice(i + 1, end);
			i = end + 1;
			return v;
		}
		if (c === '(') {
			i++;
			const t = [];
			for (;;) {
				ws();
				if (s[i] === ')') { i++; return t; }
				t.push(value());
				ws();
				if (s[i] === ',') i++;
				else if (s[i] !== ')') bad();
			}
		}
		const m = /^(True|False|[0-9]+)/.exec(s.slice(i));
		if (!m) bad();
		i += m[0].length;
		return m[0] === 'True' ? true : m[0] === 'False' ? false : Number(m[0]);
	}
	const d = {};
	expect('{');
	for (;;) {
		ws();
		if (s[i] === '}') { i++; break; }
		const k = value();
		if (typeof k !== 'string') bad();
		expect(':');
		d[k] = value();
		ws();
		if (s[i] === ',') i++;
		else if (s[i] !== '}') bad();
	}
	ws();
	if (i !== s.length) bad();
	return d;
}

// Reads a float32 little-endian C-order .npy (format 1.0 or 2.0): { dims, data }.
function readNpyF32(file) {
	let buf;
	try {
		buf = fs.readFileSync(file);
	} catch (e) {
		fail(file, e.code === 'ENOENT' ? 'no such file' : e.message);
	}
	if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
		fail(file, 'not a .npy file (bad magic)');
	const major = buf[6], minor = buf[7];
	if ((major !== 1 && major !== 2) || minor !== 0)
		fail(file, `unsupported .npy format version ${major}.${minor} (1.0 or 2.0 expected)`);
	const pre = major === 1 ? 10 : 12;
	if (buf.length < pre) fail(file, 'truncated .npy header');
	const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
	if (pre + hlen > buf.length) fail(file, 'truncated .npy header');
	const d = parseDict(buf.toString('latin1', pre, pre + hlen), file);
	const keys = Object.keys(d).sort().join(',');
	if (keys !== 'descr,fortran_order,shape')
		fail(file, `.npy header keys are {${keys}}, expected descr, fortran_order, shape`);
	if (d.descr !== '<f4') fail(file, `dtype '${d.descr}' is not float32 little-endian '<f4'`);
	if (d.fortran_order !== false) fail(file, 'fortran_order is not False (C order expected)');
	if (!Array.isArray(d.shape) || !d.shape.every((n) => Number.isSafeInteger(n)))
		fail(file, 'shape is not a tuple of integers');
	const count = d.shape.reduce((p, n) => p * n, 1);
	const body = buf.length - pre - hlen;
	if (body !== count * 4)
		fail(file, `data is ${body} bytes, shape (${d.shape.join(', ')}) needs ${count * 4}`);
	// Copy into an aligned array; swap bytes on a big-endian host.
	const data = new Float32Array(count);
	const bytes = Buffer.from(data.buffer);
	bytes.set(buf.subarray(pre + hlen));
	if (os.endianness() !== 'LE') bytes.swap32();
	return { dims: d.shape, data };
}

// Writes a typed array as a format 1.0 .npy with the given numpy dtype.
function writeNpy(file, descr, dims, arr) {
	const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
	let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
	// Pad with spaces so the data starts at a multiple of 64 bytes, as numpy does.
	h += ' '.repeat(63 - ((10 + h.length) % 64)) + '\n';
	const pre = Buffer.alloc(10);
	pre.write('\x93NUMPY', 0, 'latin1');
	pre[6] = 1;
	pre[7] = 0;
	pre.writeUInt16LE(h.length, 8);
	let data = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
	if (os.endianness() !== 'LE') {
		data = Buffer.from(data);
		if (arr.BYTES_PER_ELEMENT === 8) data.swap64();
		else data.swap32();
	}
	try {
		fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(h, 'latin1'), data]));
	} catch (e) {
		fail(file, `cannot write: ${e.code || e.message}`);
	}
}

// onnxruntime-node from $KNSEG_ORT_MODULES, else <repo>/build/npm/node_modules, else
// Node's own lookup. Absent: exit 77 (skip). Present but broken: an error.
function loadOrt() {
	const env = process.env.KNSEG_ORT_MODULES;
	const local = path.join(__dirname, '..', 'build', 'npm', 'node_modules');
	let id = 'onnxruntime-node';
	if (env) id = path.resolve(env, id);
	else if (fs.existsSync(path.join(local, id))) id = path.join(local, id);
	try {
		require.resolve(id);
	} catch (e) {
		process.stderr.write('onnx_run: onnxruntime-node is not installed ' +
			'(scripts/deps.sh onnx installs it)\n');
		process.exit(77);
	}
	try {
		return require(id);
	} catch (e) {
		fail(require.resolve(id), `onnxruntime-node failed to load: ${e.message.split('\n')[0]}`);
	}
}

function outputOf(res, name, type, model) {
	const t = res[name];
	if (!t) fail(model, `model has no output '${name}'`);
	if (t.type !== type) fail(model, `output '${name}' is ${t.type}, expected ${type}`);
	return t;
}

async function main() {
	if (process.argv.length === 3 && process.argv[2] === '--probe') {
		const ort = loadOrt();
		process.stdout.write(`onnxruntime-node ${ort.env.versions.common}\n`);
		return;
	}
	const a = parseArgs(process.argv.slice(2));
	if (!a) {
		process.stderr.write(USAGE + '\n');
		process.exit(2);
	}
	const [model, input, outLogits, outLabels] = a.files;
	if (!fs.existsSync(model)) fail(model, 'no such file');
	const x = readNpyF32(input);
	const ort = loadOrt();
	let session;
	try {
		session = await ort.InferenceSession.create(model, {
			executionProviders: ['cpu'],
			intraOpNumThreads: a.threads,
			interOpNumThreads: 1,
			graphOptimizationLevel: 'all',
		});
	} catch (e) {
		fail(model, `ONNX Runtime cannot load the model: ${e.message.split('\n')[0]}`);
	}
	if (!session.inputNames.includes('image'))
		fail(model, `model has no input 'image' (inputs: ${session.inputNames.join(', ')})`);
	const fetches = outLabels ? ['logits', 'labels'] : ['logits'];
	for (const f of fetches)
		if (!session.outputNames.includes(f))
			fail(model, `model has no output '${f}' (outputs: ${session.outputNames.join(', ')})`);
	const feeds = { image: new ort.Tensor('float32', x.data, x.dims) };
	const run = async () => {
		try {
			return await session.run(feeds, fetches);
		} catch (e) {
			fail(model, `run failed on ${input}: ${e.message.split('\n')[0]}`);
		}
	};
	let res = await run();
	if (a.iters > 0) {
		const times = [];
		for (let i = 0; i < a.iters; i++) {
			const t0 = process.hrtime.bigint();
			res = await run();
			times.push(Number(process.hrtime.bigint() - t0) / 1e9);
		}
		const s = [...times].sort((p, q) => p - q);
		const m = s.length >> 1;
		const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
		process.stdout.write(JSON.stringify({
			engine: 'onnxruntime', version: ort.env.versions.node || ort.env.versions.common,
			threads: a.threads, iters: a.iters, median_s: median, min_s: s[0], times_s: times,
		}) + '\n');
	}
	const logits = outputOf(res, 'logits', 'float32', model);
	writeNpy(outLogits, '<f4', logits.dims, logits.data);
	if (outLabels) {
		const labels = outputOf(res, 'labels', 'int64', model);
		writeNpy(outLabels, '<i8', labels.dims, labels.data);
	}
}

main().catch((e) => {
	process.stderr.write((e instanceof Fail ? e.message : `onnx_run: ${e.stack || e}`) + '\n');
	process.exit(1);
});
