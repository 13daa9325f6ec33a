// Training worker (module worker: `new Worker("./worker.js", {type: "module"})`). It loads
// pkg/infoplane_wasm.js, creates one Session from the "start" message and trains it in steps of
// about 75 ms, posting new plane points and metric rows after each step (Float64Arrays,
// transferred) until the run is done or a "stop" message arrives; then it posts the CSV files.
// The loop and the message formats are in session-loop.js. One worker trains one session.

import { createRunner } from "./session-loop.js";

const runner = createRunner((msg, transfer) => self.postMessage(msg, transfer ?? []));
self.onmessage = (ev) => runner.handle(ev.data);
