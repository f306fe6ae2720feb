// The official ServiceStack ServerEventsClient (@servicestack/client) against our /event-stream,
// unchanged: only its documented options and the EventSource it is given. Run by
// tests/test_server_events.py (`node server_events_client.mjs CONFIG_JSON`), which seeds the data
// and checks what this prints (one JSON line) against the database.
//
// The story: Alice (account A, channel A) receives a hold made through the API; she disconnects,
// two more actions happen, she reconnects with her last event id (resolveStreamUrl adds
// ?lastEventId=, as a new EventSource cannot set Last-Event-ID) and receives exactly those two,
// then a third made afterwards. Bob (account B, channel "*") receives none of Alice's, only the
// action on his own account's session made at the end.
import { ServerEventsClient } from "@servicestack/client";
import EventSource from "eventsource";

// Node 20 has no EventSource: the `eventsource` package, as ServiceStack's docs say. The client
// also reads the global's constants (EventSource.CLOSED).
globalThis.EventSource = EventSource;

const config = JSON.parse(process.argv[2]);
const TIMEOUT_MS = 15000;

function basic(user) {
  return "Basic " + Buffer.from(`${user.username}:${user.password}`).toString("base64");
}

// An EventSource that authenticates as `user` (HTTP Basic, like every API client).
function eventSourceFor(user) {
  return class extends EventSource {
    constructor(url, options) {
      super(url, { ...options, headers: { Authorization: basic(user) } });
    }
  };
}

async function api(user, method, path) {
  const response = await fetch(config.baseUrl + path, {
    method,
    headers: { Authorization: basic(user), Accept: "application/json" },
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

// A client that records every cmd.SessionEvent (its SSE id and body) in `received`.
function subscribe(user, channels, options = {}) {
  const received = [];
  let connected;
  const ready = new Promise((resolve) => (connected = resolve));
  const waiters = [];
  const client = new ServerEventsClient(config.baseUrl, channels, {
    ...options,
    handlers: {
      onConnect: (info) => connected(info),
      SessionEvent: (body, request) => {
        received.push({ eventId: request.eventId, channel: request.channel, body });
        waiters.filter((w) => received.length >= w.count).forEach((w) => w.resolve());
      },
    },
    onException: () => {},
  });
  client.EventSource = eventSourceFor(user);
  client.serviceClient.setCredentials(user.username, user.password); // its API calls
  client.start();
  const until = (count) =>
    received.length >= count
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          waiters.push({ count, resolve });
          setTimeout(() => reject(new Error(`timed out waiting for ${count} events`)), TIMEOUT_MS);
        });
  return { client, received, ready, until };
}

const summary = (r) => ({
  eventId: r.eventId,
  channel: r.channel,
  seq: r.body.seq,
  kind: r.body.kind,
  sessionId: r.body.sessionId,
  actor: r.body.actor,
  callState: r.body.session.callState,
});

const { alice, bob, sessionId, otherSessionId, accountId } = config;

const aliceFirst = subscribe(alice, [accountId]);
const bobAll = subscribe(bob, ["*"]);
const connectInfo = await aliceFirst.ready;
await bobAll.ready;

await api(alice, "POST", `/sessions/${sessionId}/hold`);
await aliceFirst.until(1);
const lastEventId = aliceFirst.received[aliceFirst.received.length - 1].eventId;
await aliceFirst.client.stop(); // unregisters: the stream is gone

await api(alice, "PATCH", `/sessions/${sessionId}?callState=Connected`);
await api(alice, "PATCH", `/sessions/${sessionId}?consoleData=ticket-42`);

const aliceAgain = subscribe(alice, [accountId], {
  resolveStreamUrl: (url) => `${url}&lastEventId=${lastEventId}`,
});
await aliceAgain.ready;
await aliceAgain.until(2);
await api(alice, "POST", `/sessions/${sessionId}/hold`);
await aliceAgain.until(3);

await api(bob, "POST", `/sessions/${otherSessionId}/hold`);
await bobAll.until(1);
const subscribers = await aliceAgain.client.getChannelSubscribers();

await aliceAgain.client.stop();
await bobAll.client.stop();

console.log(
  JSON.stringify({
    connect: {
      id: connectInfo.id,
      heartbeatUrl: connectInfo.heartbeatUrl,
      unRegisterUrl: connectInfo.unRegisterUrl,
      heartbeatIntervalMs: connectInfo.heartbeatIntervalMs,
      idleTimeoutMs: connectInfo.idleTimeoutMs,
      channels: connectInfo.channels,
      displayName: connectInfo.displayName,
      eventId: connectInfo.eventId,
    },
    lastEventId,
    first: aliceFirst.received.map(summary),
    resumed: aliceAgain.received.map(summary),
    bob: bobAll.received.map(summary),
    subscribers: subscribers.map((s) => ({ userId: s.userId, channels: s.channels })),
  }),
);
process.exit(0);
