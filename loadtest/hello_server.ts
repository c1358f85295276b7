/**
 * A trivial HTTP server (202 and a small JSON body for every request) on the port given as the
 * first argument: `bench:rinha --baseline` drives it the same way as the backend, so the report
 * shows the machine's own latency floor next to the backend's numbers.
 * @module
 */
const port = Number(Deno.args[0] ?? 0);
Deno.serve(
  { port, hostname: "127.0.0.1", onListen: () => {} },
  async (request) => {
    await request.body?.cancel();
    return new Response('{"status":"queued"}', {
      status: 202,
      headers: { "content-type": "application/json" },
    });
  },
);
