// Every operation through the official @servicestack/client with the DTOs @servicestack/cli
// generated from our /types/typescript (dtos.ts, beside this file when the test compiles it).
// tests/test_api_native_types.py writes the data, runs this and checks the database; this
// script prints what each call answered, as JSON, one object.
import { JsonApiClient, JsonServiceClient } from "@servicestack/client";
import {
  AddConferenceMember,
  AppGetActiveSessions,
  Authenticate,
  CreateWebhook,
  DeleteWebhook,
  EndSession,
  GetSession,
  HoldSession,
  ListSessions,
  ListWebhooks,
  PatchSession,
  SessionCallState,
  SessionHoldReasons,
} from "./dtos.js";

declare const process: { argv: string[] }; // Node's, without @types/node

interface Config {
  baseUrl: string;
  userName: string;
  password: string;
  accountId: string;
  sessionId: string;
}

const config: Config = JSON.parse(process.argv[2]);
const out: Record<string, unknown> = {};

function check<T>(name: string, result: { succeeded: boolean; response?: T; error?: unknown }): T {
  if (!result.succeeded || result.response === undefined) {
    throw new Error(`${name} failed: ${JSON.stringify(result.error)}`);
  }
  return result.response;
}

const client = new JsonServiceClient(config.baseUrl);
client.setCredentials(config.userName, config.password);

const auth = check(
  "Authenticate",
  await client.api(
    new Authenticate({ provider: "credentials", userName: config.userName, password: config.password }),
  ),
);
out.authenticate = { userName: auth.userName, roles: auth.roles, hasSessionId: !!auth.sessionId };

const active = check("AppGetActiveSessions", await client.api(new AppGetActiveSessions({ accountId: config.accountId })));
out.activeIds = (active.sessions ?? []).map((s) => s.id);

const got = check("GetSession", await client.api(new GetSession({ sessionId: config.sessionId })));
out.get = { id: got.id, callState: got.callState, accountName: got.accountName };

const held = check(
  "HoldSession",
  await client.api(new HoldSession({ sessionId: config.sessionId, reason: SessionHoldReasons.Transferring })),
);
out.hold = { callState: held.callState, holdReason: held.holdReason };

const resumed = check(
  "PatchSession",
  await client.api(
    new PatchSession({ sessionId: config.sessionId, callState: SessionCallState.Connected, consoleData: "typed" }),
  ),
);
out.patch = { callState: resumed.callState, consoleData: resumed.consoleData };

const invited = check(
  "AddConferenceMember",
  await client.api(new AddConferenceMember({ sessionId: config.sessionId, destination: "+15557654321" })),
);
const invitee = (invited.members ?? []).find((m) => m.displayName === "+15557654321" || m.identity === "+15557654321");
out.invite = { members: (invited.members ?? []).length, inviteeCallSid: invitee?.callSid };

const hungUp = check(
  "EndSession (a member)",
  await client.api(new EndSession({ sessionId: config.sessionId, callSid: invitee?.callSid })),
);
const hungUpInvitee = (hungUp.members ?? []).find((m) => m.callSid === invitee?.callSid);
out.endMember = { ended: hungUp.ended, inviteeCallState: hungUpInvitee?.callState };

const created = check(
  "CreateWebhook",
  await client.api(
    new CreateWebhook({
      accountId: config.accountId,
      url: "https://192.0.2.10/hooks/evo",
      eventKinds: ["held", "resumed"],
    }),
  ),
);
out.createWebhook = { id: created.id, active: created.active, secretPrefix: created.secret?.slice(0, 6) };

const webhooks = check("ListWebhooks", await client.api(new ListWebhooks({ accountId: config.accountId })));
out.listWebhooks = (webhooks.webhooks ?? []).map((w) => w.id);

const deleted = check("DeleteWebhook", await client.api(new DeleteWebhook({ webhookId: created.id })));
out.deleteWebhook = { id: deleted.id };

// JsonApiClient: /api/{Operation}, JSON sent without a Content-Type (no CORS preflight).
const apiClient = JsonApiClient.create(config.baseUrl);
apiClient.setCredentials(config.userName, config.password);
const viaApi = check(
  "PatchSession (JsonApiClient)",
  await apiClient.api(new PatchSession({ sessionId: config.sessionId, consoleData: "api client" })),
);
out.apiClientPatch = { consoleData: viaApi.consoleData };

// Errors arrive as ServiceStack's ResponseStatus.
const missing = await client.api(new GetSession({ sessionId: "no-such-session" }));
out.missing = { succeeded: missing.succeeded, errorCode: missing.error?.errorCode };

const ended = check("EndSession", await apiClient.api(new EndSession({ sessionId: config.sessionId })));
out.end = { ended: ended.ended, callState: ended.callState };

// ListSessions (a ListRequest<SessionInfo>): ended sessions too, one page.
const listed = check(
  "ListSessions",
  await client.api(new ListSessions({ accountIds: [config.accountId], countPerPage: 10, page: 0 })),
);
out.list = { ids: (listed.items ?? []).map((s) => s.id), totalCount: listed.totalCount, hasMorePages: listed.hasMorePages };

console.log(JSON.stringify(out));
