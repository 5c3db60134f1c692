import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { hydrated, parseCsv, post, signIn } from "./support";

// Every test here is an admin's; access.spec.ts covers the other roles.
test.beforeEach(async ({ page }) => {
  await signIn(page, "admin@e2e.test");
});

const berlin = (iso: string) =>
  new Date(iso).toLocaleString("sv-SE", { timeZone: "Europe/Berlin" });

test("filter, open the drawer, export exactly the filtered list", async ({ page, request }) => {
  const token = `zq${Date.now().toString(36)}`;
  // Newer than the sign-in's own audit events, so it heads the list.
  const occurredAt = new Date().toISOString();
  const [id] = await post(request, [
    {
      occurred_at: occurredAt,
      project: "e2e-project",
      category: "access",
      module: "Login",
      action: "login",
      result: "failure",
      actor: { id: "u-e2e", name: "E2E Tester", email: "e2e@example.test", type: "user" },
      source_ip: "203.0.113.250",
      user_agent: "Playwright",
      target: { type: "account", id: "acct-e2e", name: "E2E account" },
      description: `Failed sign-in ${token}`,
      error: "Password expired for e2e",
      details: { login_source: "sso", request: { method: "POST", path: "/login" } },
      trace_id: `trace-${token}`,
    },
  ]);
  // A second matching event that the result filter must exclude.
  await post(request, [
    {
      occurred_at: new Date(Date.now() - 2000).toISOString(),
      project: "e2e-project",
      module: "Login",
      action: "logout",
      description: `Signed out ${token}`,
    },
  ]);

  await page.goto("/");
  await hydrated(page);
  const rows = page.getByTestId("event-row");
  await expect(rows.first()).toHaveAttribute("data-id", id);

  // Filter: keyword + project dropdown + result dropdown, applied through the form.
  await page.getByTestId("f-q").fill(token);
  await page.getByTestId("f-project").selectOption("e2e-project");
  await page.getByTestId("f-result").selectOption("failure");
  await page.getByTestId("apply").click();
  await expect(page).toHaveURL(new RegExp(`q=${token}`));
  await expect(page).toHaveURL(/result=failure/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-id", id);
  await expect(rows.first()).toContainText(berlin(occurredAt));
  await expect(rows.first()).toContainText("E2E Tester");

  // The view lives in the URL: a reload reproduces it, form included.
  await page.reload();
  await hydrated(page);
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId("f-q")).toHaveValue(token);
  await expect(page.getByTestId("f-result")).toHaveValue("failure");

  // The drawer shows every field, the error and pretty-printed details; it deep-links.
  await rows.first().click();
  await expect(page).toHaveURL(new RegExp(`/events/${id}\\?`));
  const drawer = page.getByTestId("drawer");
  await expect(drawer).toBeVisible();
  await expect(drawer.getByTestId("event-error")).toContainText("Password expired for e2e");
  const field = (name: string) => drawer.locator(`dd[data-field="${name}"]`);
  await expect(field("Event ID")).toHaveText(id);
  await expect(field("Actor email")).toHaveText("e2e@example.test");
  await expect(field("Source IP")).toHaveText("203.0.113.250");
  await expect(field("Target name")).toHaveText("E2E account");
  await expect(field("User agent")).toHaveText("Playwright");
  await expect(field("Time")).toHaveText(berlin(occurredAt));
  await expect(field("Trace").locator("a").first()).toHaveText(`trace-${token}`);
  await expect(field("Trace").getByTestId("view-trace")).toHaveAttribute("href", `/traces/trace-${token}`);
  const json = await drawer.getByTestId("event-json").textContent();
  expect(JSON.parse(json!)).toEqual({ login_source: "sso", request: { method: "POST", path: "/login" } });
  expect(json).toContain('\n  "login_source": "sso"');
  await page.screenshot({ path: "test-results/drawer.png" });

  await page.keyboard.press("Escape");
  await expect(drawer).toBeHidden();
  await expect(page).toHaveURL(/\/\?.*result=failure/);

  // Export downloads exactly the filtered rows, header first.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("export-csv").click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^auditrail-[a-z0-9+_.-]+-(start|\d{8}T\d{4})-\d{8}T\d{4}\.csv$/);
  const csv = parseCsv(readFileSync(await download.path(), "utf8"));
  expect(csv[0].slice(0, 8)).toEqual(["Time", "User", "Project", "Module", "Action", "Result", "Description", "IP"]);
  expect(csv.length).toBe(2);
  expect(csv[1][csv[0].indexOf("Event ID")]).toBe(id);
  expect(csv[1][csv[0].indexOf("Error")]).toBe("Password expired for e2e");
  const [workbook] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("export-xlsx").click(),
  ]);
  expect(workbook.suggestedFilename()).toMatch(/\.xlsx$/);
  expect(readFileSync(await workbook.path()).subarray(0, 2).toString()).toBe("PK");

  // Back reopens the drawer, then the filtered list, then the unfiltered one; forward returns.
  await page.goBack();
  await expect(drawer).toBeVisible();
  await page.goBack();
  await expect(drawer).toBeHidden();
  await expect(rows).toHaveCount(1);
  await page.goBack();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("f-q")).toHaveValue("");
  await expect(rows).toHaveCount(50);
  await page.goForward();
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId("f-q")).toHaveValue(token);
  await page.getByTestId("reset").click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("f-q")).toHaveValue("");
  await expect(rows).toHaveCount(50);
});

test("a deep link opens the drawer on first load", async ({ page, request }) => {
  const [id] = await post(request, [
    { occurred_at: new Date().toISOString(), module: "Deep link", action: "open", description: "Deep-linked event" },
  ]);
  await page.goto(`/events/${id}`);
  await expect(page.getByTestId("drawer")).toContainText("Deep-linked event");
  await expect(page.getByTestId("drawer").locator('dd[data-field="Event ID"]')).toHaveText(id);
  await page.goto("/events/no-such-event");
  await expect(page.getByTestId("drawer-missing")).toBeVisible();
});

test("paging by cursor, empty results and a bad filter read clearly", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  const firstPage = await page.getByTestId("event-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")));
  await page.getByTestId("older").click();
  await expect(page).toHaveURL(/cursor=/);
  // The old page stays on screen while the next one loads (no flash of "Loading").
  await expect(page.getByTestId("event-row").first()).not.toHaveAttribute("data-id", firstPage[0]!);
  const secondPage = await page.getByTestId("event-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")));
  expect(secondPage.length).toBe(50);
  expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);

  await page.goto("/?q=nothingmatchesthisatall");
  await expect(page.getByTestId("empty")).toContainText("No events match these filters.");

  await page.goto("/?range=fortnight");
  await expect(page.getByTestId("load-error")).toContainText("range: must be one of");
});

test("time presets and custom range reach the URL", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  await page.getByTestId("f-range").selectOption("today");
  await page.getByTestId("apply").click();
  await expect(page).toHaveURL(/range=today/);
  await expect(page).toHaveURL(/tz=Europe%2FBerlin/);
  await page.getByTestId("f-range").selectOption("custom");
  await page.getByTestId("f-from").fill("2020-01-01T00:00");
  await page.getByTestId("f-to").fill("2020-01-02T00:00");
  await page.getByTestId("apply").click();
  await expect(page).toHaveURL(/from=2020-01-01T00%3A00%3A00/);
  await expect(page.getByTestId("empty")).toBeVisible();
  await page.screenshot({ path: "test-results/custom-range.png" });
});

test.describe("before the WASM app loads", () => {
  test.use({ javaScriptEnabled: false });

  test("the server-rendered form shows the URL's filters and the table lists them", async ({ page }) => {
    await page.goto("/?q=campaign&result=failure&range=30d");
    await expect(page.getByTestId("f-q")).toHaveValue("campaign");
    await expect(page.getByTestId("f-result")).toHaveValue("failure");
    await expect(page.getByTestId("f-range")).toHaveValue("30d");
    const rows = page.getByTestId("event-row");
    await expect(rows.first()).toBeVisible();
    for (const row of await rows.all()) {
      await expect(row).toContainText("failure");
    }
  });
});
