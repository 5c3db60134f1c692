import { expect, test } from "@playwright/test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { live, parseCsv, post, signIn } from "./support";

test("an export job runs in the background, downloads the filtered rows and can be deleted", async ({ page, request }) => {
  const token = `jobtoken${Date.now()}`;
  const now = Date.now();
  await post(request, [0, 1, 2].map((i) => ({
    occurred_at: new Date(now - i * 60_000).toISOString(),
    project: "e2e-shop",
    module: "Jobs",
    action: "export.me",
    description: `${token} event ${i}`,
  })));

  // Hundreds of demo events: the list suggests the background export.
  await signIn(page, "admin@e2e.test", "/");
  await live(page);
  await expect(page.getByTestId("export-hint")).toBeVisible();
  // The project keeps the admin's own trail records of this search (which name the token) out.
  await page.goto(`/?project=e2e-shop&q=${token}`);
  await live(page);
  await expect(page.getByTestId("event-row")).toHaveCount(3);
  await expect(page.getByTestId("export-hint")).toHaveCount(0);
  await page.getByTestId("export-in-background").click();
  await expect(page).toHaveURL(new RegExp(`/exports\\?query=project%3De2e-shop%26q%3D${token}$`));
  await live(page);
  const current = page.getByRole("radio", { name: /The current filter/ });
  await expect(current).toBeChecked();
  await page.getByTestId("export-format").selectOption("csv");
  const jobs = page.getByTestId("export-job");
  const before = await jobs.count();
  await page.getByTestId("start-export").click();
  await expect(jobs).toHaveCount(before + 1);
  const job = jobs.first();
  await expect(job).toHaveAttribute("data-status", "done", { timeout: 30_000 });
  await expect(job.getByTestId("export-progress")).toHaveText("3 of 3 rows");
  await expect(job).toContainText(`q=${token}`);
  await expect(job).toContainText("admin@e2e.test");
  await page.screenshot({ path: test.info().outputPath("exports-page.png"), fullPage: true });

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    job.getByTestId("download-export").click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^auditrail-e2e-shop-start-\d{8}T\d{4}\.csv\.gz$/);
  const gz = readFileSync(await download.path());
  const csv = parseCsv(gunzipSync(gz).toString("utf8"));
  expect(csv.length).toBe(4);
  const description = csv[0].indexOf("Description");
  expect(csv.slice(1).map((row) => row[description])).toEqual([0, 1, 2].map((i) => `${token} event ${i}`));

  const manifestUrl = await job.getByTestId("export-manifest").getAttribute("href");
  const manifest = await (await page.request.get(manifestUrl!)).json();
  expect(manifest.sha256).toBe(createHash("sha256").update(gz).digest("hex"));
  expect(manifest.rows).toBe(3);
  expect(manifest.filter).toBe(`project=e2e-shop&q=${token}`);

  // Someone else's job is not theirs to see: an auditor of one project sees none of the admin's.
  const other = await page.context().browser()!.newContext();
  const auditor = await other.newPage();
  await signIn(auditor, "shop@e2e.test", "/exports");
  await expect(auditor).toHaveURL(/\/exports$/);
  await expect(auditor.getByTestId("account")).toContainText("shop@e2e.test");
  await expect(auditor.getByTestId("exports-link")).toBeVisible();
  await expect(auditor.getByTestId("export-job").filter({ hasText: token })).toHaveCount(0);
  const stolen = await auditor.request.get(manifestUrl!);
  expect(stolen.status()).toBe(404);
  await other.close();

  page.once("dialog", (dialog) => dialog.accept());
  await job.getByTestId("delete-export").click();
  await expect(jobs).toHaveCount(before);
  expect((await page.request.get(manifestUrl!)).status()).toBe(404);
});

test("the quick picks export the last hours, and people without logs.export get no exports", async ({ page }) => {
  await signIn(page, "shop@e2e.test", "/exports");
  await live(page);
  await page.getByRole("radio", { name: "Last 7 days" }).check();
  await page.getByTestId("export-format").selectOption("xlsx");
  await page.getByTestId("start-export").click();
  const job = page.getByTestId("export-job").first();
  await expect(job).toContainText("range=7d");
  await expect(job).toHaveAttribute("data-status", "done", { timeout: 30_000 });
  await expect(job).toContainText("Excel");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    job.getByTestId("download-export").click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^auditrail-all-\d{8}T\d{4}-\d{8}T\d{4}\.xlsx$/);
  expect(readFileSync(await download.path()).subarray(0, 2).toString()).toBe("PK");

  const viewer = await page.context().browser()!.newContext();
  const viewerPage = await viewer.newPage();
  await signIn(viewerPage, "viewer@e2e.test", "/exports");
  await expect(viewerPage.getByTestId("exports-link")).toHaveCount(0);
  await expect(viewerPage.getByRole("alert")).toContainText("logs.export");
  await viewer.close();
});
