// The llama.cpp side of test_llama_cpp.py: runs token ids through llama.cpp (node-llama-cpp's
// prebuilt CPU build) and writes, per sequence, the next-token probabilities at every
// position (temperature 1, no top-k/top-p/min-p truncation), a greedy continuation, and
// llama.cpp's detokenisation of the ids.
//   node llama_eval.mjs NODE_LLAMA_CPP_DIR MODEL.gguf IN.json OUT.json
// IN.json:  {"sequences": [[ids...], ...], "n_vocab": V, "greedy": N, "threads": T, "kv_f32": B,
//            "texts": [S, ...] (optional: llama.cpp's own tokenisation of each comes back)}
//   T 1 on a busy machine: llama.cpp's spinning thread pool ran 17x slower with 2 threads on 2
//   shared cores. kv_f32: an F32 KV cache instead of llama.cpp's default F16 one.
// OUT.json: {"results": [{"probs": [[V floats] per position], "greedy": [N ids], "text": S}],
//            "tokenized": [[ids...] per text]}
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, model, inPath, outPath] = process.argv.slice(2);
const api = pathToFileURL(join(dir, "node_modules/node-llama-cpp/dist/index.js")).href;
const { getLlama, LlamaLogLevel } = await import(api);
const job = JSON.parse(readFileSync(inPath, "utf8"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
const next = { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } };

function dense(map) {
    const p = new Array(job.n_vocab).fill(0);
    for (const [tok, v] of map) p[tok] = v;
    return p;
}
function argmax(map) { // ties to the lower id, as genc's greedy
    let best = -1, bv = -1;
    for (const [tok, v] of map) if (v > bv || (v === bv && tok < best)) { best = tok; bv = v; }
    return best;
}

const results = [];
for (const ids of job.sequences) {
    const ctx = await m.createContext({ contextSize: Math.max(64, ids.length + (job.greedy ?? 0) + 8),
                                        threads: job.threads ?? 1, batchSize: 512, sequences: 1,
                                        ...(job.kv_f32 ? { experimentalKvCacheKeyType: "F32",
                                                           experimentalKvCacheValueType: "F32" } : {}) });
    const seq = ctx.getSequence();
    const out = await seq.controlledEvaluate(ids.map((t) => [t, next]));
    const probs = out.map((o) => dense(o.next.probabilities));
    const greedy = [];
    let last = argmax(out[out.length - 1].next.probabilities);
    for (let i = 0; i < (job.greedy ?? 0); i++) {
        greedy.push(last);
        const r = await seq.controlledEvaluate([[last, next]]);
        last = argmax(r[0].next.probabilities);
    }
    results.push({ probs, greedy, text: m.detokenize(ids) });
    await ctx.dispose();
}
// llama.cpp's own tokenisation of each text (informational: genc's pre-tokenizer differs)
const tokenized = (job.texts ?? []).map((t) => Array.from(m.tokenize(t, false)));
writeFileSync(outPath, JSON.stringify({ results, tokenized }));
await m.dispose();
await llama.dispose();
