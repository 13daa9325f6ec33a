// Runs one preset through the wasm build under node and writes its plane.csv.
// usage: node wasm-run.cjs PKG_JS PRESET EPOCHS(0=preset) SCHEDULE("" = preset) OUT.csv [ESTIMATORS [SEED]]
const { Session } = require(process.argv[2]);
const fs = require("fs");
const [preset, epochs, schedule, out] = [process.argv[3], +process.argv[4], process.argv[5] || "", process.argv[6]];
const t0 = process.hrtime.bigint();
const s = new Session(preset, "tanh", process.argv[7] || "", +(process.argv[8] || 0), epochs, schedule);
while (!s.done()) s.step(100);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
fs.writeFileSync(out, s.planeCsv());
console.log(`wasm ${preset} epochs=${s.totalEpochs()}: ${(ms/1000).toFixed(2)} s`);
