// sample_ess.mjs: a client written the way Milestone's official browser
// (JavaScript) sample for the Events and State WebSocket API works
// (docs/ess-protocol.md section 8.1): fetch() for the IDP token, a WebSocket
// without headers (browsers cannot set them) to /api/ws/events/v1 without
// a trailing slash, then the authenticate command, startSession,
// addSubscription with "Include" casing and an empty subscriptionId, and
// getState; commandId counts from 0 (commandId++); any message with a
// non-null commandId is a response, any with an events member an event
// batch, anything else is an error.  Run with Node >= 20:
//   node --experimental-websocket sample_ess.mjs PORT TOTAL OUT
// Writes the received event ids to OUT, one per line; exits 1 with
// "FAIL: ..." on a violation or after 60 s.
import { writeFileSync } from "node:fs";

const [port, total, out] = [Number(process.argv[2]),
	Number(process.argv[3]), process.argv[4]];
const fail = (why) => {
	console.error("FAIL: " + why);
	process.exit(1);
};
setTimeout(() => fail("timeout"), 60000).unref();

const form = new URLSearchParams({
	grant_type: "password", username: "alice", password: "secret",
	client_id: "GrantValidatorClient",
});
const r = await fetch(`http://127.0.0.1:${port}/API/IDP/connect/token`, {
	method: "POST",
	headers: { "Content-Type": "application/x-www-form-urlencoded" },
	body: form,
});
if (!r.ok)
	fail("token endpoint: " + r.status);
const token = (await r.json()).access_token;

let commandId = 0;
const waiting = new Map();
const ids = [];
let states = null;
const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws/events/v1`);

function send(command) {
	const id = commandId++;
	command.commandId = id;
	return new Promise((resolve) => {
		waiting.set(id, resolve);
		ws.send(JSON.stringify(command));
	});
}

ws.onmessage = (ev) => {
	const msg = JSON.parse(ev.data);
	if (msg.commandId != null) {
		const resolve = waiting.get(msg.commandId);
		if (resolve === undefined)
			fail("response to an unknown commandId: " + ev.data);
		waiting.delete(msg.commandId);
		resolve(msg);
	} else if (msg.events) {
		if (Object.keys(msg).length !== 1 || msg.events.length === 0)
			fail("bad event message: " + ev.data.slice(0, 200));
		for (const e of msg.events)
			ids.push(e.id);
		if (ids.length >= total) {
			writeFileSync(out, ids.slice(0, total).join("\n") + "\n");
			console.log(`${ids.length} events, ${states} states`);
			ws.close(1000);
			process.exit(0);
		}
	} else
		fail("neither a response nor events: " + ev.data.slice(0, 200));
};
ws.onclose = (ev) => fail(`closed: ${ev.code} ${ev.reason}`);
ws.onerror = () => fail("WebSocket error");
ws.onopen = async () => {
	if (ws.protocol !== "")
		fail("subprotocol negotiated: " + ws.protocol);
	let resp = await send({ command: "authenticate",
		token: "Bearer " + token });
	if (resp.status < 200 || resp.status > 299 || resp.commandId !== 0)
		fail("authenticate: " + JSON.stringify(resp));
	resp = await send({ command: "startSession", sessionId: "",
		eventId: "" });
	if (resp.status !== 201 || !resp.sessionId)
		fail("startSession: " + JSON.stringify(resp));
	resp = await send({ command: "addSubscription", subscriptionId: "",
		filters: [{ modifier: "Include", resourceTypes: ["*"],
			sourceIds: ["*"], eventTypes: ["*"] }] });
	if (resp.status !== 200)
		fail("addSubscription: " + JSON.stringify(resp));
	resp = await send({ command: "getState" });
	if (resp.status !== 200 || !Array.isArray(resp.states))
		fail("getState: " + JSON.stringify(resp).slice(0, 200));
	states = resp.states.length;
};
