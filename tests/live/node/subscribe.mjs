// Subscribes with the graphql-ws client to executionChanged(id) at the URL given, printing one
// JSON line per event ("next", "error", "complete"). The key, if any, goes in connection_init,
// as a browser sends it. Usage: node subscribe.mjs <ws url> <execution id> [api key]
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, id, key] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: key ? { Authorization: `Bearer ${key}` } : {},
  retryAttempts: 0,
});
const print = (event) => process.stdout.write(JSON.stringify(event) + "\n");
client.subscribe(
  { query: "subscription($id: ID!) { executionChanged(id: $id) { id status } }", variables: { id } },
  {
    next: (value) => print({ event: "next", value }),
    error: (error) => {
      print({ event: "error", error: error?.reason ?? error?.message ?? String(error) });
      client.dispose();
      process.exitCode = 1;
    },
    complete: () => {
      print({ event: "complete" });
      client.dispose();
    },
  },
);
