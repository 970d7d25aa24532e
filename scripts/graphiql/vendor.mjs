// Copies the browser builds named in FILES from scripts/graphiql/node_modules into the gateway's
// package (gateway/http/graphiql/static/), with THIRD_PARTY_LICENSES.txt and SOURCES.json.
// Run by scripts/update-graphiql after `npm ci`; it reads package-lock.json, never the network.
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const STATIC = join(HERE, "..", "..", "gateway", "http", "graphiql", "static");
const VENDOR = join(STATIC, "vendor");

// The served name, the package it comes from, and the file inside that package.
// UMD production builds: one file each, no bundler, React and ReactDOM as globals.
const FILES = [
  ["react.production.min.js", "react", "umd/react.production.min.js"],
  ["react-dom.production.min.js", "react-dom", "umd/react-dom.production.min.js"],
  ["graphiql.min.js", "graphiql", "graphiql.min.js"],
  ["graphiql.min.css", "graphiql", "graphiql.min.css"],
  ["plugin-explorer.umd.js", "@graphiql/plugin-explorer", "dist/index.umd.js"],
  ["plugin-explorer.css", "@graphiql/plugin-explorer", "dist/style.css"],
  ["graphql-ws.min.js", "graphql-ws", "umd/graphql-ws.min.js"],
];

const lock = JSON.parse(readFileSync(join(HERE, "package-lock.json"), "utf8"));
const manifest = JSON.parse(readFileSync(join(HERE, "package.json"), "utf8"));

function locked(name) {
  const entry = lock.packages[`node_modules/${name}`];
  if (!entry) throw new Error(`${name} is not in package-lock.json; run npm ci first`);
  return entry;
}

function sha256(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

// Strip the source-map comment: the maps are not shipped, and a browser would ask for them.
function withoutSourceMap(text) {
  return text.replace(/\n?\/[/*][#@] sourceMappingURL=[^\n]*\s*$/, "\n");
}

rmSync(VENDOR, { recursive: true, force: true });
mkdirSync(VENDOR, { recursive: true });

const files = [];
for (const [served, name, inner] of FILES) {
  const source = join(HERE, "node_modules", name, inner);
  const target = join(VENDOR, served);
  if (/\.(js|css)$/.test(served)) {
    writeFileSync(target, withoutSourceMap(readFileSync(source, "utf8")));
  } else {
    copyFileSync(source, target);
  }
  files.push({ file: `vendor/${served}`, package: name, path: inner, sha256: sha256(target) });
}

const direct = Object.keys(manifest.dependencies).sort().map((name) => {
  const entry = locked(name);
  return { name, version: entry.version, integrity: entry.integrity };
});

// Every package in the installed tree: the bundles (graphiql's above all) carry code from many of
// them, so all their licenses are kept, a superset of what the files contain.
const LICENSE_FILE = /^(licen[cs]e|copying|notice)(\.|$)/i;
const sections = [];
const tree = Object.entries(lock.packages)
  .filter(([path]) => path.startsWith("node_modules/"))
  .map(([path, entry]) => ({ path, name: path.split("node_modules/").pop(), entry }))
  .sort((a, b) => a.name.localeCompare(b.name) || a.entry.version.localeCompare(b.entry.version));
for (const { path, name, entry } of tree) {
  const dir = join(HERE, path);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const license = entry.license ?? pkg.license ?? "UNKNOWN";
  const texts = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => LICENSE_FILE.test(f))
        .sort()
        .map((f) => readFileSync(join(dir, f), "utf8").trim())
    : [];
  const body = texts.length
    ? texts.join("\n\n")
    : `(the package ships no license file; its package.json declares ${license})`;
  sections.push(`${"=".repeat(78)}\n${name}@${entry.version} (${license})\n${"=".repeat(78)}\n${body}\n`);
}
writeFileSync(
  join(VENDOR, "THIRD_PARTY_LICENSES.txt"),
  "Licenses of the npm packages whose browser builds are in this folder (scripts/update-graphiql).\n\n" +
    sections.join("\n"),
);

const record = {
  comment:
    "Written by scripts/update-graphiql from scripts/graphiql/package-lock.json: do not edit by hand.",
  packages: direct,
  files,
};
writeFileSync(join(VENDOR, "SOURCES.json"), JSON.stringify(record, null, 2) + "\n");
console.log(`vendored ${files.length} files from ${direct.length} packages into ${VENDOR}`);
