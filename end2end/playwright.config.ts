import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// One scratch directory per run holds the database and the API key the server script creates.
process.env.E2E_DIR ??= mkdtempSync(join(tmpdir(), "auditrail-e2e-"));
// One project per backend, each with its own server and database.
const backends = [
  { name: "sqlite", port: 3310 },
  { name: "postgres", port: 3311 },
];

// Debian's Chromium: Playwright never downloads a browser here.
const chromium = process.env.CHROMIUM_PATH ?? execFileSync("sh", ["-c", "command -v chromium"]).toString().trim();

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: true,
  retries: 0,
  reporter: [["list"]],
  use: {
    timezoneId: "Europe/Berlin",
    locale: "en-GB",
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true,
    launchOptions: {
      executablePath: chromium,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: backends.map(({ name, port }) => ({
    name: `chromium-${name}`,
    use: { browserName: "chromium", baseURL: `http://127.0.0.1:${port}` },
  })),
  webServer: backends.map(({ name, port }) => ({
    command: `../scripts/e2e-server.sh ${port} ${name}`,
    url: `http://127.0.0.1:${port}/`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
  })),
});
