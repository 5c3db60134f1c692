import { expect, type Page, test } from "@playwright/test";
import { hydrated, live, signIn } from "./support";

/** The texts of one column's cells, by the column's header label. */
async function column(page: Page, label: string): Promise<string[]> {
  const headers = await page.getByTestId("events-table").locator("thead th").allTextContents();
  const at = headers.findIndex((h) => h.trim() === label);
  expect(at, `a ${label} column in ${headers.join(" | ")}`).toBeGreaterThanOrEqual(0);
  return page.locator(`[data-testid="event-row"] td:nth-child(${at + 1})`).allTextContents();
}

/** Opens a view's tab, checks its columns, then filters by one of its detail filters with the
 *  value the first row shows, and finds only rows with that value. */
async function walk(page: Page, tab: string, id: string, labels: string[], filter: { label: string; testid: string }) {
  await page.getByTestId(`view-${id}`).click();
  await expect(page).toHaveURL(new RegExp(`view=${id}`));
  await expect(page.getByTestId(`view-${id}`)).toHaveClass(/active/);
  await hydrated(page);
  const headers = (await page.getByTestId("events-table").locator("thead th").allTextContents()).map((h) => h.trim());
  for (const label of labels) expect(headers).toContain(label);
  const first = (await column(page, filter.label))[0].trim();
  expect(first, `${tab}: the first row has a ${filter.label}`).not.toBe("");
  await page.getByTestId(filter.testid).fill(first);
  await page.getByTestId("apply").click();
  await expect(page).toHaveURL(new RegExp(`view=${id}`));
  await expect(page).toHaveURL(new RegExp(`${filter.testid.replace("f-", "")}=`));
  await hydrated(page);
  const values = await column(page, filter.label);
  expect(values.length).toBeGreaterThan(0);
  for (const v of values) expect(v.trim()).toBe(first);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId(filter.testid)).toHaveValue(first);
  await page.screenshot({ path: test.info().outputPath(`view-${id}.png`), fullPage: true });
}

test("each log view lists its kind with its own columns and filters, kept in the URL", async ({ page }) => {
  await signIn(page, "admin@e2e.test", "/");
  await hydrated(page);
  const tabs = page.getByTestId("view-tabs").locator("a");
  await expect(tabs).toHaveText(["All", "Activity", "Access", "Webhook failures", "Integration failures", "Access trail"]);
  // All leaves the access trail (project auditrail) to its own view.
  expect(await column(page, "Project")).not.toContain("auditrail");

  await walk(page, "Access", "access", ["User", "IP", "Action", "Brand / project", "Login source"], { label: "Login source", testid: "f-details.login_source" });
  await walk(page, "Webhook failures", "webhook_failures", ["Webhook", "URL", "Status code", "Attempt"], { label: "Status code", testid: "f-details.status" });
  await walk(page, "Integration failures", "integration_failures", ["Integration", "Integration type", "Failure type"], { label: "Failure type", testid: "f-details.failure_type" });

  await page.getByTestId("view-activity").click();
  await expect(page).toHaveURL(/view=activity/);
  await hydrated(page);
  await expect(page.getByTestId("f-category")).toHaveCount(0);
  expect((await column(page, "Module")).length).toBeGreaterThan(0);

  await page.getByTestId("view-trail").click();
  await expect(page).toHaveURL(/view=trail/);
  await hydrated(page);
  expect(await column(page, "Description")).toContain("Audit log accessed");
  await page.screenshot({ path: test.info().outputPath("view-trail.png"), fullPage: true });
});

test("a viewer has no access-trail view, and no columns from behind the drawer", async ({ page }) => {
  await signIn(page, "viewer@e2e.test", "/?view=access");
  await hydrated(page);
  await expect(page.getByTestId("view-trail")).toHaveCount(0);
  for (const v of await column(page, "Login source")) expect(v.trim()).toBe("");
  // Nor a filter the server would refuse them.
  await expect(page.getByTestId("f-details.login_source")).toHaveCount(0);
  await expect(page.getByTestId("f-actor")).toBeVisible();
  await page.goto("/?view=trail");
  await live(page);
  await expect(page.getByTestId("empty")).toBeVisible();
});
