import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// One scratch directory per run holds the database and the API key the server script creates.
process.env.E2E_DIR ??= mkdtempSync(join(tmpdir(), "auditrail-e2e-"));
const port = Number(process.env.E2E_PORT ?? 3310);

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
    baseURL: `http://127.0.0.1:${port}`,
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
  projects: [{ name: "chromium-sqlite", use: { browserName: "chromium" } }],
  webServer: {
    command: `../scripts/e2e-server.sh ${port}`,
    url: `http://127.0.0.1:${port}/`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
  },
});
