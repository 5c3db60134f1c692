import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { addUser, hydrated, PASSWORD, parseCsv, post, signIn } from "./support";

test("signing in: wrong password, deep link kept, sign out", async ({ page }) => {
  await page.goto("/?range=7d");
  await expect(page).toHaveURL(/\/sign-in\?next=%2F%3Frange%3D7d/);
  await page.getByLabel("Email").fill("admin@e2e.test");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("sign-in-error")).toContainText("email or password is wrong");
  await page.screenshot({ path: "test-results/sign-in-refused.png" });

  await page.getByLabel("Email").fill("admin@e2e.test");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/\?range=7d$/);
  await hydrated(page);
  await expect(page.getByTestId("account")).toContainText("admin@e2e.test");

  await page.getByTestId("sign-out").click();
  await expect(page.getByTestId("signed-out")).toBeVisible();
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in/);
});

test("without the WASM app, signing in still lands on the deep link", async ({ browser }) => {
  const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await page.goto("/admin/roles");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fadmin%2Froles/);
  await page.getByLabel("Email").fill("admin@e2e.test");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin\/roles$/);
  await expect(page.getByRole("heading", { name: "Roles" })).toBeVisible();
});

test("a viewer lists events but cannot open details or export", async ({ page, request }) => {
  const [id] = await post(request, [
    { occurred_at: new Date().toISOString(), module: "Viewer check", action: "edit", description: "Seen by a viewer" },
  ]);
  await signIn(page, "viewer@e2e.test");
  await hydrated(page);
  await expect(page.getByTestId("account")).toContainText("viewer");
  await expect(page.getByTestId("event-row").first()).toBeVisible();
  await expect(page.getByTestId("export-csv")).toHaveCount(0);

  await page.goto(`/events/${id}`);
  const drawer = page.getByTestId("drawer");
  await expect(drawer.getByTestId("drawer-error")).toContainText("logs.view_details");
  await expect(drawer.getByTestId("event-details")).toHaveCount(0);
  await page.screenshot({ path: "test-results/viewer-drawer.png" });

  const exported = await page.request.get("/export?format=csv");
  expect(exported.status()).toBe(403);
});

test("a user limited to one project never sees another", async ({ page, request }) => {
  const stamp = Date.now().toString(36);
  await post(request, [
    { occurred_at: new Date().toISOString(), project: "e2e-shop", module: "Cart", action: "edit", description: `Shop ${stamp}` },
    { occurred_at: new Date().toISOString(), project: "e2e-crm", module: "Contacts", action: "edit", description: `CRM ${stamp}` },
  ]);
  await signIn(page, "shop@e2e.test");
  await hydrated(page);
  const projects = await page.getByTestId("f-project").locator("option").allTextContents();
  expect(projects.filter((p) => p !== "" && !p.startsWith("All"))).toEqual(["e2e-shop"]);
  const rows = page.getByTestId("event-row");
  for (const row of await rows.all()) {
    await expect(row).toContainText("e2e-shop");
  }

  await page.goto(`/?q=${stamp}`);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(`Shop ${stamp}`);
  await page.goto("/?project=e2e-crm");
  await expect(page.getByTestId("empty")).toBeVisible();

  await page.goto(`/?q=${stamp}`);
  await hydrated(page);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-csv").click()]);
  const csv = parseCsv(readFileSync(await download.path(), "utf8"));
  expect(csv.length).toBe(2);
  expect(csv[1][csv[0].indexOf("Project")]).toBe("e2e-shop");
});

test("looking at the audit log is itself in the audit log", async ({ page, request }) => {
  const [id] = await post(request, [
    { occurred_at: new Date().toISOString(), module: "Trail", action: "edit", description: "Opened for the trail" },
  ]);
  await signIn(page, "admin@e2e.test", `/events/${id}`);
  await expect(page.getByTestId("drawer")).toContainText("Opened for the trail");

  await page.goto("/?project=auditrail");
  await hydrated(page);
  const rows = page.getByTestId("event-row");
  await expect(rows.filter({ hasText: "Viewed event details" }).first()).toBeVisible();
  await expect(rows.filter({ hasText: "Signed in" }).first()).toContainText("admin@e2e.test");
  await expect(rows.filter({ hasText: "Sign-in refused" }).first()).toBeVisible();
  await expect(rows.filter({ hasText: "Audit log accessed" }).first()).toBeVisible();
  await page.screenshot({ path: "test-results/audit-trail.png" });
});

test("a person changes their own password on the account page", async ({ page, browser }) => {
  const email = `pw-${Date.now().toString(36)}@e2e.test`;
  const first = await addUser(page, email, "viewer");
  const theirs = await (await browser.newContext()).newPage();
  await signIn(theirs, email, "/", first);
  await theirs.getByTestId("account-link").click();
  await expect(theirs).toHaveURL(/\/account$/);
  await expect(theirs.getByTestId("account-facts")).toContainText(email);
  await expect(theirs.getByTestId("account-facts")).toContainText("viewer");
  await expect(theirs.getByText("logs.view_details")).toHaveCount(0);

  const NEW = "my own passphrase, chosen by me";
  const change = async (current: string, next: string, again: string) => {
    await theirs.getByLabel("Current password").fill(current);
    await theirs.getByLabel("New password", { exact: true }).fill(next);
    await theirs.getByLabel("New password again").fill(again);
    await theirs.getByRole("button", { name: "Change password" }).click();
  };
  await change("not the password", NEW, NEW);
  await expect(theirs.getByTestId("password-error")).toContainText("current password is wrong");
  await change(first, NEW, NEW);
  await expect(theirs.getByTestId("password-changed")).toBeVisible();
  await theirs.screenshot({ path: "test-results/account-password-changed.png" });

  // The browser that changed it stays signed in; the old password no longer works.
  await theirs.goto("/");
  await expect(theirs.getByTestId("account")).toContainText(email);
  await theirs.getByTestId("sign-out").click();
  await expect(theirs.getByTestId("signed-out")).toBeVisible();
  await theirs.getByLabel("Email").fill(email);
  await theirs.getByLabel("Password").fill(first);
  await theirs.getByRole("button", { name: "Sign in" }).click();
  await expect(theirs.getByTestId("sign-in-error")).toBeVisible();
  await signIn(theirs, email, "/", NEW);
  await expect(theirs.getByTestId("account")).toContainText(email);
});
