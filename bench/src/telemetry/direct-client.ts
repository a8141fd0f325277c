/**
 * The ceiling for the bridge benchmark, run as its own process: a plain grpc-js client sending
 * pre-encoded ExportTraceServiceRequests of `batch` spans to the receiver, `concurrency` calls in
 * flight, for `seconds`. Prints `{"spans": <acknowledged>, "seconds": <elapsed>}`.
 * Usage: node direct-client.ts <endpoint> <seconds> <batch> <concurrency>
 */
import { grpcSink } from '@wpfarm/telemetry/bridge/sinks';
import { edgeProtobufRequest } from './spans.ts';

const [endpoint = '', secondsArg = '3', batchArg = '2048', concurrencyArg = '4'] = process.argv.slice(2);
const seconds = Number(secondsArg);
const batch = Number(batchArg);
const request = edgeProtobufRequest(batch);
const sink = grpcSink(endpoint, 10_000);
const started = performance.now();
const end = started + seconds * 1000;
let spans = 0;
let failures = 0;
async function worker(): Promise<void> {
  while (performance.now() < end) {
    const r = await sink.send(request, () => ({}));
    if (r.ok) spans += batch;
    else failures++;
  }
}
await Promise.all(Array.from({ length: Number(concurrencyArg) }, worker));
await sink.close();
process.stdout.write(
  `${JSON.stringify({ spans, failures, seconds: (performance.now() - started) / 1000 })}\n`,
);
