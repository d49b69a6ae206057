// The token service a team would otherwise write from Microsoft's
// trusted-service quickstarts: an HTTP handler that calls the official
// identity SDK for every request, with the app's users kept in a Map (no
// sign-in check, no store). The bench drives it beside our service against
// the same emulator.
//
// Usage: node server.mjs CONNECTION_STRING [--exit-with-stdin]
//   prints its URL on stdout; with --exit-with-stdin it stops when its stdin
//   closes (the bench holds it, so the peer ends with the bench, killed or not)
// POST /token {"appUserId": "alice"} -> {"userId", "token", "expiresOn"}
import http from "node:http";
import { CommunicationIdentityClient } from "@azure/communication-identity";

const connectionString = process.argv[2];
const client = new CommunicationIdentityClient(connectionString, {
  allowInsecureConnection: connectionString.includes("endpoint=http://"),
});
const users = new Map();

async function userFor(appUserId) {
  let user = users.get(appUserId);
  if (!user) {
    user = await client.createUser();
    users.set(appUserId, user);
  }
  return user;
}

const server = http.createServer(async (request, response) => {
  try {
    if (request.method !== "POST" || request.url !== "/token") {
      response.writeHead(404).end();
      return;
    }
    let body = "";
    for await (const chunk of request) body += chunk;
    const { appUserId } = JSON.parse(body || "{}");
    const user = await userFor(String(appUserId ?? "anonymous"));
    const token = await client.getToken(user, ["chat", "voip"]);
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        userId: user.communicationUserId,
        token: token.token,
        expiresOn: token.expiresOn.toISOString(),
      }),
    );
  } catch (e) {
    response.writeHead(502, { "content-type": "application/json" });
    response.end(JSON.stringify({ error: String(e?.message ?? e) }));
  }
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  console.log(`http://127.0.0.1:${port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
if (process.argv.includes("--exit-with-stdin")) {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}
