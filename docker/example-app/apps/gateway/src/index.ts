// Placeholder gateway: answers the load balancer's health check until the real app is deployed.
const port = Number(process.env.PORT ?? 3002);

const server = Bun.serve({
  port,
  fetch() {
    return Response.json({ service: "gateway", status: "ok" });
  },
});

console.log(JSON.stringify({ level: "info", msg: "listening", port: server.port }));
