// Training worker (module worker: `new Worker("./worker.js", {type: "module"})`). It loads
// pkg/infoplane_wasm.js once, creates a Session (one seed of a run) from each "start" message
// and trains it in steps of about 75 ms, posting new plane points and metric rows after each
// step (Float64Arrays, transferred) until the seed is done or a "stop" message arrives; then it
// posts the seed's CSV rows and takes the next "start". The loop and the message formats are in
// session-loop.js. The page runs one worker per core, each on seed after seed.

import { createRunner } from "./session-loop.js";

const runner = createRunner((msg, transfer) => self.postMessage(msg, transfer ?? []));
self.onmessage = (ev) => runner.handle(ev.data);
