// Drives one snippet against a gateway, as an app would: read the inbox and the feed, watch the
// execution of a waiting approval, approve it, and follow the changes until it finishes. Prints
// one JSON document. Run by tests/clients/test_snippets.py:
//   node out/run.js <apollo | urql | graphql-request> <gateway url> <execution id> [api key]
import type { GatewayClient } from "./client.js";

const [name, url, executionId, apiKey] = process.argv.slice(2);
if (!name || !url || !executionId) throw new Error("usage: run.js <client> <url> <execution id> [key]");
const { connect } = (await import(`./${name}.js`)) as {
  connect: (url: string, apiKey?: string) => GatewayClient;
};
const client = connect(url, apiKey);

const inbox = await client.inbox(20);
const waiting = inbox.edges.map((edge) => edge.node).find((a) => a.execution.id === executionId);
if (!waiting) throw new Error(`no pending approval of ${executionId} in the inbox`);
const firstPage = await client.feed(5);
const secondPage = await client.feed(5, firstPage.pageInfo.endCursor);

const changes: string[] = [];
let decision: Awaited<ReturnType<GatewayClient["approve"]>> | undefined;
await new Promise<void>((resolve, reject) => {
  client.executionChanged(executionId, {
    next(execution) {
      changes.push(execution.status);
      if (changes.length === 1) {
        // Watching first, so the change the decision makes is not missed.
        client.approve(waiting.id, `approved by the ${name} snippet`).then((d) => (decision = d), reject);
      }
    },
    error: reject,
    complete: resolve,
  });
});
client.close();

console.log(
  JSON.stringify({
    inbox: inbox.edges.map((edge) => ({ id: edge.node.id, execution: edge.node.execution.id })),
    feed: [...firstPage.edges, ...secondPage.edges].map((edge) => edge.node?.id),
    decision,
    changes,
  }),
);
