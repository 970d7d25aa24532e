// Drives the gateway's GraphiQL page in headless Chromium as a person would, for test_graphiql.py.
//   node graphiql.mjs '<json>'   with {chromium, url, screenshot, steps: [...]}
// Every request that is not to 127.0.0.1 is aborted and reported, as are CSP violations, page
// errors and WebSocket frames. Prints one JSON object: what each step saw, or where it failed.
// A screenshot is always written to `screenshot` (the last state, or the failing one).
import puppeteer from "puppeteer-core";

const STEP_TIMEOUT_MS = 15_000;
const args = JSON.parse(process.argv[2]);
const observed = {
  steps: [],
  blocked: [],
  cspViolations: [],
  pageErrors: [],
  consoleErrors: [],
  wsSent: [],
  wsReceived: [],
  error: null,
};

function isLocal(url) {
  if (url.startsWith("data:") || url.startsWith("blob:")) return true;
  try {
    return new URL(url).hostname === "127.0.0.1";
  } catch {
    return false;
  }
}

// The text of a CodeMirror 5 editor under `selector` (GraphiQL 3 keeps the instance on the node).
function editorText(page, selector) {
  return page.$eval(`${selector} .CodeMirror`, (node) => node.CodeMirror.getValue());
}

async function typeQuery(page, query) {
  await page.click(".graphiql-query-editor .CodeMirror");
  await page.keyboard.down("Control");
  await page.keyboard.press("KeyA");
  await page.keyboard.up("Control");
  await page.keyboard.press("Backspace");
  // GraphiQL closes brackets as they open; typing the closing one steps over it.
  await page.keyboard.type(query, { delay: 5 });
  await page.keyboard.press("Escape"); // an open completion list
  return editorText(page, ".graphiql-query-editor");
}

async function runAndRead(page, expect) {
  // Empty the pane first: a 401 for the schema already shows the text a refused query shows.
  await page.$eval(".graphiql-response .CodeMirror", (node) => node.CodeMirror.setValue(""));
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    (selector, wanted) => {
      const node = document.querySelector(selector);
      return node && node.CodeMirror && node.CodeMirror.getValue().includes(wanted);
    },
    { timeout: STEP_TIMEOUT_MS },
    ".graphiql-response .CodeMirror",
    expect,
  );
  return editorText(page, ".graphiql-response");
}

const STEPS = {
  // The IDE rendered: its editor is on the page.
  async render(page) {
    await page.waitForSelector(".graphiql-container .graphiql-query-editor .CodeMirror", {
      timeout: STEP_TIMEOUT_MS,
    });
    return { title: await page.title() };
  },
  // Type `query` into the editor, run it, and return the result pane once it holds `expect`
  // (without `expect`, only run it: a subscription may have nothing to say yet).
  async query(page, step) {
    const typed = await typeQuery(page, step.query);
    if (!step.expect) {
      await page.click(".graphiql-execute-button");
      return { typed };
    }
    return { typed, result: await runAndRead(page, step.expect) };
  },
  // Open the documentation explorer, follow the root query type, return what it lists.
  async docs(page) {
    await page.click('button[aria-label="Show Documentation Explorer"]');
    const link = await page.waitForSelector("::-p-xpath(//a[contains(@class,'graphiql-doc-explorer-type-name') and text()='Query'])", {
      timeout: STEP_TIMEOUT_MS,
    });
    await link.click();
    await page.waitForFunction(
      () => document.querySelector(".graphiql-doc-explorer-title")?.textContent === "Query",
      { timeout: STEP_TIMEOUT_MS },
    );
    return { text: await page.$eval(".graphiql-doc-explorer", (node) => node.innerText) };
  },
  // Click `selector`, wait for `waitFor`, and return its text.
  async click(page, step) {
    await page.click(step.selector);
    const shown = await page.waitForSelector(step.waitFor, { visible: true, timeout: STEP_TIMEOUT_MS });
    return { text: await shown.evaluate((node) => node.innerText) };
  },
  // Type the API key into the bar above the IDE and press Enter.
  async key(page, step) {
    await page.waitForSelector("#gateway-api-key", { visible: true, timeout: STEP_TIMEOUT_MS });
    await page.$eval("#gateway-api-key", (node) => { node.value = ""; });
    await page.type("#gateway-api-key", step.key);
    await page.keyboard.press("Enter");
    // The schema is fetched again with the key: wait for the gateway's verdict on it.
    await page.waitForFunction(
      () => !document.querySelector("#gateway-key-status").textContent.startsWith("sending"),
      { timeout: STEP_TIMEOUT_MS },
    );
    return {
      status: await page.$eval("#gateway-key-status", (node) => node.textContent),
    };
  },
  // Put `text` into GraphiQL's Headers tab.
  async headers(page, step) {
    await page.click('button[data-name="headers"]');
    await page.waitForSelector(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror", { visible: true });
    await page.$eval(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror", (node, text) => node.CodeMirror.setValue(text), step.text);
    return {};
  },
  // Tick "keep for this tab".
  async keep(page) {
    await page.click("#gateway-keep-key");
    return { status: await page.$eval("#gateway-key-status", (node) => node.textContent) };
  },
  // What the page keeps in localStorage and sessionStorage.
  async storage(page) {
    return page.evaluate(() => ({
      local: Object.fromEntries(Object.entries(window.localStorage)),
      session: Object.fromEntries(Object.entries(window.sessionStorage)),
    }));
  },
  // Whether the key bar is shown (it is only when the gateway asks for a key).
  async keyBar(page) {
    return { visible: await page.$eval("#gateway-key-bar", (node) => !node.hidden) };
  },
  // Wait until the result pane holds `expect` (a subscription's later event), without running.
  async shows(page, step) {
    await page.waitForFunction(
      (selector, wanted) => {
        const node = document.querySelector(selector);
        return node && node.CodeMirror && node.CodeMirror.getValue().includes(wanted);
      },
      { timeout: STEP_TIMEOUT_MS },
      ".graphiql-response .CodeMirror",
      step.expect,
    );
    return { result: await editorText(page, ".graphiql-response") };
  },
  // Wait until the text of `selector` holds `expect` (a plain page, e.g. eventsource.html).
  async text(page, step) {
    await page.waitForFunction(
      (selector, wanted) => document.querySelector(selector)?.textContent.includes(wanted),
      { timeout: STEP_TIMEOUT_MS },
      step.selector,
      step.expect,
    );
    return { text: await page.$eval(step.selector, (node) => node.textContent) };
  },
  // What a second tab does: POST a GraphQL request to the gateway, outside this page.
  async post(page, step) {
    const response = await fetch(args.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(step.headers || {}) },
      body: JSON.stringify({ query: step.query, variables: step.variables || {} }),
    });
    return { status: response.status, body: await response.json() };
  },
  // Wait until the WebSocket has received a message of `type` (graphql-transport-ws).
  async wsMessage(page, step) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (!observed.wsReceived.some((m) => m.type === step.type)) {
      if (Date.now() > deadline) throw new Error(`no '${step.type}' message on the WebSocket`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { received: observed.wsReceived.map((m) => m.type) };
  },
};

const browser = await puppeteer.launch({
  executablePath: args.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"],
});
let page;
try {
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    if (isLocal(request.url())) request.continue();
    else {
      observed.blocked.push(request.url());
      request.abort("blockedbyclient");
    }
  });
  page.on("pageerror", (error) => observed.pageErrors.push(String(error)));
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) observed.cspViolations.push(message.text());
    if (message.type() === "error") observed.consoleErrors.push(message.text());
  });
  const cdp = await page.createCDPSession();
  await cdp.send("Network.enable");
  const parse = (payload) => {
    try {
      return JSON.parse(payload);
    } catch {
      return { type: "(not JSON)", payload };
    }
  };
  cdp.on("Network.webSocketFrameSent", (e) => observed.wsSent.push(parse(e.response.payloadData)));
  cdp.on("Network.webSocketFrameReceived", (e) => observed.wsReceived.push(parse(e.response.payloadData)));
  const response = await page.goto(args.url, { waitUntil: "load", timeout: STEP_TIMEOUT_MS });
  observed.status = response.status();
  observed.finalUrl = page.url();
  for (const step of args.steps) {
    const seen = await STEPS[step.do](page, step);
    observed.steps.push({ do: step.do, ...seen });
  }
} catch (error) {
  observed.error = `${observed.steps.length}: ${error.message}`;
  if (page) {
    observed.response = await editorText(page, ".graphiql-response").catch(() => null);
  }
} finally {
  if (page) await page.screenshot({ path: args.screenshot }).catch(() => {});
  await browser.close();
}
process.stdout.write(JSON.stringify(observed));
