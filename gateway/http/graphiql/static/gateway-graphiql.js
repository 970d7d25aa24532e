// The gateway's GraphiQL: the vendored GraphiQL, its explorer plugin, and one fetcher that sends
// queries and mutations over HTTP and subscriptions over graphql-ws (graphql-transport-ws), both
// carrying the API key typed into the bar above the IDE. The key lives in this page's memory; it
// goes to sessionStorage (this tab only) when the user ticks "keep for this tab", never further.
/* global React, ReactDOM, GraphiQL, GraphiQLPluginExplorer, graphqlWs */
(function () {
  "use strict";

  var KEY_STORAGE = "gateway-graphiql-api-key";
  var container = document.getElementById("graphiql");
  var endpoint = new URL(container.dataset.endpoint, window.location.href);
  // The header auth.mode = "api_key" reads; "" when the gateway asks for no key.
  var authHeader = container.dataset.apiKey === "required" ? "Authorization" : "";
  var wsEndpoint = new URL(endpoint.href);
  wsEndpoint.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  if (!window.GraphiQL || !window.React || !window.ReactDOM || !window.graphqlWs) {
    container.textContent =
      "GraphiQL's scripts did not load: see the browser console (the page loads them only from this gateway).";
    return;
  }

  var apiKey = "";
  try {
    apiKey = window.sessionStorage.getItem(KEY_STORAGE) || "";
  } catch (e) {
    apiKey = ""; // storage blocked: the key is asked for again
  }

  // What the gateway said to the key field's key: "" (not sent yet), "accepted" or "refused".
  var keyVerdict = "";
  var onKeyVerdict = function () {};

  function judgeKey(init, status) {
    var sent = headerValue(init && init.headers, "Authorization");
    if (!apiKey || sent !== "Bearer " + apiKey) return; // the Headers tab's value, not the field's
    var verdict = status === 401 ? "refused" : "accepted";
    if (verdict !== keyVerdict) {
      keyVerdict = verdict;
      onKeyVerdict();
    }
  }

  // A 401 carries the gateway's own error; GraphiQL shows the body, so say there what to do.
  function fetchExplaining401(input, init) {
    return window.fetch(input, init).then(function (response) {
      judgeKey(init, response.status);
      if (response.status !== 401) return response;
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (body) {
          var sent = headerValue(init && init.headers, "Authorization") !== undefined;
          var hint = {
            message: sent
              ? "401 Unauthorized: the gateway does not know this API key. Check the key field " +
                "above the editor, or the Authorization header in the Headers tab, and run again."
              : "401 Unauthorized: this gateway needs an API key. Type it in the API key field " +
                "above the editor (it is sent as 'Authorization: Bearer <key>') and run again.",
            extensions: { code: "UNAUTHENTICATED", status: 401 },
          };
          var errors = Array.isArray(body.errors) ? body.errors : [];
          return new Response(JSON.stringify({ errors: [hint].concat(errors) }), {
            status: 401,
            headers: { "content-type": "application/json" },
          });
        });
    });
  }

  function headerValue(headers, name) {
    var wanted = name.toLowerCase();
    for (var key in headers || {}) {
      if (key.toLowerCase() === wanted) return String(headers[key]);
    }
    return undefined;
  }

  // One graphql-ws client per Authorization value: connection_init carries it, so a new key
  // needs a new connection. The headers editor's Authorization, when given, wins over the field.
  var current = { authorization: null, fetcher: null, ws: null };

  function fetcherFor(authorization) {
    if (current.fetcher && current.authorization === authorization) return current.fetcher;
    if (current.ws) current.ws.dispose();
    var payload = {};
    if (authHeader && authorization) payload[authHeader] = authorization;
    var ws = graphqlWs.createClient({
      url: wsEndpoint.href,
      lazy: true,
      retryAttempts: 0,
      connectionParams: payload,
    });
    current = {
      authorization: authorization,
      ws: ws,
      fetcher: GraphiQL.createFetcher({ url: endpoint.href, wsClient: ws, fetch: fetchExplaining401 }),
    };
    return current.fetcher;
  }

  function parsed(query) {
    try {
      return GraphiQL.GraphQL.parse(query);
    } catch (e) {
      return null; // the server says what is wrong with it
    }
  }

  function makeFetcher() {
    var keyHeaders = {};
    if (authHeader && apiKey) keyHeaders[authHeader] = "Bearer " + apiKey;
    return function gatewayFetcher(params, options) {
      var typed = (options && options.headers) || {};
      var headers = Object.assign(
        {},
        authHeader && headerValue(typed, authHeader) === undefined ? keyHeaders : {},
        typed,
      );
      var authorization = authHeader ? headerValue(headers, authHeader) : undefined;
      // The editor's own parse lags typing; a stale one would send a subscription over HTTP.
      var documentAST = parsed(params.query) || (options && options.documentAST);
      return fetcherFor(authorization || "")(
        params,
        Object.assign({}, options, { headers: headers, documentAST: documentAST }),
      );
    };
  }

  var DEFAULT_QUERY = [
    "# Executions, steps and approvals from every source.",
    "# Ctrl-Enter runs; Docs and Explorer (left) show the schema.",
    "{",
    "  sources { name kind health }",
    "}",
    "",
  ].join("\n");
  // The example tabs (shown until the user's own tabs are kept in this browser tab's storage).
  var RUN_CONTROL_QUERY = [
    "# Run control (operator role): start a run, watch it, cancel it.",
    "# 1. Run StartRun: the same idempotencyKey with the same input answers the same run.",
    "mutation StartRun {",
    "  startExecution(input: {source: \"rv\", workflowId: \"wf_support_triage\",",
    "      inputs: {ticket: \"Refund for order #12345\"}, idempotencyKey: \"graphiql-1\"}) {",
    "    __typename",
    "    ... on RunControlSuccess { executionId replayed execution { status } }",
    "    ... on RunControlError { code message }",
    "  }",
    "}",
    "",
    "# 2. Watch it (paste the executionId): it reaches its human step, then finishes.",
    "subscription Watch {",
    "  executionChanged(id: \"rv:exec_run0001...\") { id status approvals { id status } }",
    "}",
    "",
    "# 3. Cancel it; a finished run answers RunAlreadyFinished with its final status.",
    "mutation Cancel {",
    "  cancelExecution(input: {executionId: \"rv:exec_run0001...\", reason: \"not needed\"}) {",
    "    __typename",
    "    ... on RunControlSuccess { execution { status } }",
    "    ... on RunAlreadyFinished { finalStatus }",
    "    ... on RunControlError { code message }",
    "  }",
    "}",
    "",
  ].join("\n");
  var INBOX_QUERY = [
    "# The approvals inbox: what waits on you (your client's reviewer_id), whether you may",
    "# decide it, and rows that drop out when anyone decides.",
    "query MyInbox {",
    "  pendingApprovals(assignedToMe: true, first: 20) {",
    "    edges { node { id status message requestedAt",
    "      execution { id source { name } }",
    "      viewerCanDecide { allowed reason message } } }",
    "    pageInfo { hasNextPage endCursor }",
    "  }",
    "}",
    "",
    "# Clear several at once (approver role): one result per item, in order.",
    "mutation ClearSome {",
    "  decideMany(decisions: [{approvalId: \"<id>\", decision: APPROVE, notes: \"ok\"}]) {",
    "    __typename",
    "    ... on DecisionSuccess { approval { id status } }",
    "    ... on DecisionForbidden { reason message }",
    "    ... on DecisionError { code message }",
    "  }",
    "}",
    "",
    "# Keep the inbox current: each approval that stops waiting, wherever it was decided.",
    "subscription Resolved {",
    "  approvalResolved { id status }",
    "}",
    "",
  ].join("\n");
  var plugins = window.GraphiQLPluginExplorer ? [GraphiQLPluginExplorer.explorerPlugin()] : [];
  var root = ReactDOM.createRoot(container);

  // A new fetcher makes GraphiQL fetch the schema again: a key given after a 401 takes effect.
  function render() {
    root.render(
      React.createElement(GraphiQL, {
        fetcher: makeFetcher(),
        plugins: plugins,
        defaultQuery: DEFAULT_QUERY,
        defaultTabs: [
          { query: DEFAULT_QUERY },
          { query: RUN_CONTROL_QUERY },
          { query: INBOX_QUERY },
        ],
        storage: window.sessionStorage,
        shouldPersistHeaders: false,
        defaultEditorToolsVisibility: false,
      }),
    );
  }

  function setUpKeyBar() {
    var bar = document.getElementById("gateway-key-bar");
    var input = document.getElementById("gateway-api-key");
    var keep = document.getElementById("gateway-keep-key");
    var status = document.getElementById("gateway-key-status");
    bar.hidden = false;
    input.value = apiKey;
    keep.checked = Boolean(apiKey);

    function showStatus() {
      var kept = keep.checked ? " (kept for this tab)" : "";
      if (!apiKey) status.textContent = "no key: the gateway answers 401";
      else if (keyVerdict === "refused")
        status.textContent = "the gateway refused this key (401): check it and press Use key" + kept;
      else if (keyVerdict === "accepted") status.textContent = "the gateway accepted this key" + kept;
      else status.textContent = "sending this key with every request" + kept;
      status.classList.toggle("gateway-key-missing", !apiKey || keyVerdict === "refused");
    }
    onKeyVerdict = showStatus;

    function remember() {
      try {
        if (keep.checked && apiKey) window.sessionStorage.setItem(KEY_STORAGE, apiKey);
        else window.sessionStorage.removeItem(KEY_STORAGE);
      } catch (e) {
        keep.checked = false; // storage blocked: the key stays in memory only
      }
    }

    bar.addEventListener("submit", function (event) {
      event.preventDefault();
      var typed = input.value.trim();
      if (typed === apiKey) return;
      apiKey = typed;
      keyVerdict = "";
      remember();
      showStatus();
      render();
    });
    keep.addEventListener("change", function () {
      remember();
      showStatus();
    });
    showStatus();
  }

  if (authHeader) setUpKeyBar();
  render();
})();
