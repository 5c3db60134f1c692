import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { live, signIn } from "./support";

test("an admin archives the last 2 hours of the debug log, downloads it and deletes it", async ({ page }) => {
  await signIn(page, "admin@e2e.test", "/admin/debug-logs");
  await live(page);
  const before = await page.getByTestId("archive").count();
  await page.getByTestId("archive-2h").click();
  const row = page.getByTestId("archive").first();
  await expect(page.getByTestId("archive")).toHaveCount(before + 1);
  await expect(row).toHaveAttribute("data-status", "ready");
  await expect(row).toContainText("Last 2 hours");
  await page.screenshot({ path: test.info().outputPath("debug-logs.png"), fullPage: true });

  const [download] = await Promise.all([page.waitForEvent("download"), row.getByTestId("download-archive").click()]);
  expect(download.suggestedFilename()).toMatch(/^auditrail-debug-log-\d{8}T\d{4}Z-\d{8}T\d{4}Z\.jsonl\.gz$/);
  const lines = gunzipSync(readFileSync((await download.path())!)).toString("utf8").trim().split("\n");
  // The server logged as it started ("listening") and since: every line is a JSON object.
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(typeof JSON.parse(line).timestamp).toBe("string");

  page.once("dialog", (dialog) => dialog.accept());
  await row.getByTestId("delete-archive").click();
  await expect(page.getByTestId("archive")).toHaveCount(before);
});

test("people without settings.manage cannot ask for debug logs", async ({ page }) => {
  await signIn(page, "shop@e2e.test", "/admin/debug-logs");
  await live(page);
  await expect(page.getByTestId("admin-error")).toContainText("settings.manage");
});
