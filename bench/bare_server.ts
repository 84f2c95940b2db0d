/** The baseline for `deno task bench`: a bare `Deno.serve` that reads the body and answers 200. */
Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.env.get("PORT")), onListen: () => {} }, async (req) => {
  await req.arrayBuffer();
  return new Response("ok");
});
