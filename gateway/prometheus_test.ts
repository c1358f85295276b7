import assert from "node:assert/strict";
import { GatewayMetrics } from "./metrics.ts";
import { parsePrometheusText, sampleValue } from "./prometheus.ts";

Deno.test("the gateway's metrics page parses, with the counts it was given", () => {
  const m = new GatewayMetrics();
  m.observe("/pix/payments", 202, 0.0007);
  m.observe("/pix/payments", 202, 0.003);
  m.observe("/pix/payments", 400, 20);
  m.batch("stream", 2, false);
  m.batch("stream", 5, true);
  const page = parsePrometheusText(
    m.render({ queueDepth: new Map([["stream", 42]]), redisUp: true, waitingConfirmations: 0 }),
  );
  const requests = "fastpix_gateway_requests_total";
  assert.equal(sampleValue(page, requests, { route: "/pix/payments", status: "202" }), 2);
  assert.equal(sampleValue(page, requests, { route: "/pix/payments", status: "400" }), 1);
  const bucket = "fastpix_gateway_request_duration_seconds_bucket";
  assert.equal(sampleValue(page, bucket, { route: "/pix/payments", le: "0.0005" }), 0);
  assert.equal(sampleValue(page, bucket, { route: "/pix/payments", le: "0.001" }), 1);
  assert.equal(sampleValue(page, bucket, { route: "/pix/payments", le: "0.005" }), 2);
  assert.equal(sampleValue(page, bucket, { route: "/pix/payments", le: "10" }), 2);
  assert.equal(sampleValue(page, bucket, { route: "/pix/payments", le: "+Inf" }), 3);
  assert.equal(
    sampleValue(page, "fastpix_gateway_enqueued_payments_total", { design: "stream" }),
    2,
  );
  assert.equal(sampleValue(page, "fastpix_gateway_enqueue_errors_total", { design: "stream" }), 5);
  assert.equal(sampleValue(page, "fastpix_gateway_queue_depth", { design: "stream" }), 42);
  assert.equal(page.types.get("fastpix_gateway_request_duration_seconds"), "histogram");
});

Deno.test("the parser refuses malformed pages", () => {
  const bad = [
    "no_type_line 1",
    "# TYPE x counter\nx{a=1} 1",
    "# TYPE x counter\nx one",
    "# TYPE x wobble\nx 1",
    "# TYPE x counter\n# TYPE x counter\nx 1",
    '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 3\nh_count 3',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1',
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3',
  ];
  for (const text of bad) assert.throws(() => parsePrometheusText(text), Error, text);
  const good = parsePrometheusText('# TYPE x gauge\nx{a="q\\"uote",b="2"} -1.5e3\n');
  assert.deepEqual(good.samples, [{ name: "x", labels: { a: 'q"uote', b: "2" }, value: -1500 }]);
});
