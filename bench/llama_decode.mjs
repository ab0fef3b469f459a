// bench/llama_cpp_decode.py's llama.cpp half: greedy decode speed of a GGUF model in
// llama.cpp (node-llama-cpp's prebuilt CPU build): evaluates the prompt ids, then generates
// up to N tokens at temperature 0 and prints one JSON line {"tokens": n, "seconds": s} for
// the generation alone (the prompt's evaluation and the first token excluded).
//   node llama_decode.mjs NODE_LLAMA_CPP_DIR MODEL.gguf THREADS N ID,ID,...
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, model, threads, n, ids] = process.argv.slice(2);
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(join(dir, "node_modules/node-llama-cpp/dist/index.js")).href);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
const prompt = ids.split(",").map(Number);
const ctx = await m.createContext({ contextSize: prompt.length + Number(n) + 8, threads: Number(threads), sequences: 1,
                                    batching: { dispatchSchedule: (dispatch) => dispatch() } });
const seq = ctx.getSequence();
let count = 0, t0 = 0;
for await (const tok of seq.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
    if (count === 0) t0 = performance.now();
    if (++count > Number(n)) break;
}
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ tokens: count - 1, seconds }));
await ctx.dispose();
await m.dispose();
await llama.dispose();
