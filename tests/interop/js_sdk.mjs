// The official JS SDK (@azure/communication-identity 1.3) against the
// emulator: create user, create user and token, get token, revoke, delete,
// and the error cases. Usage: node js_sdk.mjs CONNECTION_STRING
// With an https:// connection string (the emulator's --tls), Node trusts the
// emulator's certificate through NODE_EXTRA_CA_CERTS.
import { CommunicationIdentityClient } from "@azure/communication-identity";

const connectionString = process.argv[2];
let checks = 0;
function check(condition, what) {
  if (!condition) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
  checks += 1;
}

// http:// endpoints need allowInsecureConnection; https:// ones nothing.
const tls = connectionString.includes("endpoint=https://");
const client = tls
  ? new CommunicationIdentityClient(connectionString)
  : new CommunicationIdentityClient(connectionString, { allowInsecureConnection: true });

const user = await client.createUser();
check(user.communicationUserId.startsWith("8:acs:"), "createUser returns an 8:acs: id");
const created = await client.createUserAndToken(["chat", "voip"], { tokenExpiresInMinutes: 60 });
check(created.token.split(".").length === 3, "createUserAndToken returns a JWT");
const minutes = (created.expiresOn.getTime() - Date.now()) / 60000;
check(minutes > 58 && minutes <= 60, "the token lives 60 minutes");
const token = await client.getToken(user, ["voip"]);
check(token.expiresOn instanceof Date, "getToken returns an expiry date");
await client.revokeTokens(user);
await client.deleteUser(created.user);
try {
  await client.getToken(created.user, ["chat"]);
  check(false, "a deleted user has no tokens");
} catch (e) {
  check(e.statusCode === 404, "deleted user: 404");
}
try {
  await client.getToken(user, ["chat"], { tokenExpiresInMinutes: 59 });
  check(false, "59 minutes is refused");
} catch (e) {
  check(e.statusCode === 400 && e.code === "ValidationError", "59 minutes: 400 ValidationError");
}
await client.deleteUser(user);
console.log(`js sdk interop (${tls ? "https" : "http"}): ${checks} passed, 0 failed`);
