// A SkyForge example: Node's http module, no dependencies.
"use strict";
const http = require("http");

const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("ok");
  } else if (req.url === "/") {
    const greeting = escape(process.env.GREETING || "hello");
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(
      `<!doctype html><title>SkyForge node example</title><h1>${greeting}</h1><p>kind: node</p>`,
    );
  } else {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found");
  }
});

const port = Number(process.env.PORT || 5000);
server.listen(port, "0.0.0.0", () => console.log(`listening on port ${port}`));
// SIGTERM is how a rollout stops the old process: finish open requests, then exit.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
