import { expect, test } from "@playwright/test";
import { addUser, live, signIn } from "./support";

const stamp = () => Date.now().toString(36);

test("an admin adds a user, who signs in with the shown password; a change of role and deactivation apply at once", async ({ page, browser }) => {
  const email = `new-${stamp()}@e2e.test`;
  const secret = await addUser(page, email, "auditor");
  expect(secret).toMatch(/^[A-Za-z0-9]{20}$/);
  await expect(page.getByTestId("new-email")).toHaveValue("");
  const row = page.locator(`[data-testid="user-row"][data-email="${email}"]`);
  await expect(row.getByTestId("role")).toHaveValue("auditor");
  await page.screenshot({ path: "test-results/admin-users.png" });

  const theirs = await (await browser.newContext()).newPage();
  await signIn(theirs, email, "/", secret);
  await live(theirs);
  await expect(theirs.getByTestId("account")).toContainText("auditor");
  await expect(theirs.getByTestId("export-csv")).toBeVisible();

  await row.getByTestId("role").selectOption("viewer");
  await row.getByTestId("save").click();
  await expect(page.getByTestId("saved")).toBeVisible();
  await page.screenshot({ path: "test-results/admin-users-saved.png" });
  await theirs.reload();
  await live(theirs);
  await expect(theirs.getByTestId("account")).toContainText("viewer");
  await expect(theirs.getByTestId("export-csv")).toHaveCount(0);

  await row.getByTestId("toggle-active").click();
  await expect(row).toContainText("deactivated");
  await theirs.reload();
  await expect(theirs).toHaveURL(/\/sign-in/);
});

test("an admin creates, edits and deletes a custom role", async ({ page }) => {
  await signIn(page, "admin@e2e.test", "/admin/roles");
  await live(page);
  const name = `support-${stamp()}`;
  await page.getByTestId("role-name").fill(name);
  await page.getByRole("checkbox", { name: /logs\.export/ }).check();
  await page.getByRole("button", { name: "Save role" }).click();
  const row = page.locator(`[data-testid="role-row"][data-role="${name}"]`);
  await expect(row).toContainText("logs.view, logs.export");

  await row.getByTestId("edit-role").click();
  await page.getByRole("checkbox", { name: /logs\.view_details/ }).check();
  await page.getByRole("button", { name: "Save role" }).click();
  await expect(row).toContainText("logs.view, logs.view_details, logs.export");
  await page.screenshot({ path: "test-results/admin-roles.png" });

  // Built-in roles cannot be changed.
  await page.getByTestId("role-name").fill("viewer");
  await page.getByRole("button", { name: "Save role" }).click();
  await expect(page.getByTestId("admin-error")).toContainText("built-in role");

  await row.getByTestId("delete-role").click();
  await expect(row).toHaveCount(0);
});

test("an admin creates an ingest-only API key, shown once, then revokes it", async ({ page, request }) => {
  await signIn(page, "admin@e2e.test", "/admin/api-keys");
  await live(page);
  const name = `ingest-${stamp()}`;
  await page.getByTestId("key-name").fill(name);
  await page.getByRole("checkbox", { name: /^read/ }).uncheck();
  await page.getByRole("checkbox", { name: /^export/ }).uncheck();
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = (await page.getByTestId("secret").textContent())!.trim();
  expect(secret).toMatch(/^atr_[0-9a-f]{64}$/);
  const row = page.locator(`[data-testid="key-row"][data-name="${name}"]`);
  await expect(row).toContainText("ingest");
  await expect(row).toContainText("active");
  await page.screenshot({ path: "test-results/admin-keys.png" });

  const headers = { Authorization: `Bearer ${secret}` };
  const event = { occurred_at: new Date().toISOString(), module: "Keys", action: "post", description: "Posted with a UI key" };
  expect((await request.post("/api/v1/events", { headers, data: event })).status()).toBe(201);
  expect((await request.get("/api/v1/events", { headers })).status()).toBe(403);

  await row.getByTestId("revoke").click();
  await expect(row).toContainText("revoked");
  expect((await request.post("/api/v1/events", { headers, data: event })).status()).toBe(401);
});

test("people without the permission see no admin link and get a clear refusal", async ({ page }) => {
  await signIn(page, "viewer@e2e.test");
  await live(page);
  await expect(page.getByTestId("admin-link")).toHaveCount(0);
  await page.goto("/admin/users");
  await expect(page.getByTestId("admin-error").first()).toContainText("users.manage");
});

test("admins see each delivery's latest days, failures with their reason and next try", async ({ page }) => {
  await signIn(page, "admin@e2e.test", "/admin/deliveries");
  await live(page);
  const daily = page.locator('[data-testid="delivery"][data-name="daily"]');
  await expect(daily).toContainText("project=e2e-shop");
  await expect(daily).toContainText("at 00:30 UTC");
  const delivered = daily.getByTestId("delivery-run");
  await expect(delivered).toHaveCount(1);
  await expect(delivered).toHaveAttribute("data-status", "done");
  await expect(delivered).toContainText(/daily\/\d{4}-\d{2}-\d{2}\.jsonl\.gz/);
  const broken = page.locator('[data-testid="delivery"][data-name="broken"]').getByTestId("delivery-run");
  await expect(broken).toHaveAttribute("data-status", "failed");
  await expect(broken).toContainText("broken");
  await expect(broken).toContainText("Next try");
  await page.screenshot({ path: test.info().outputPath("admin-deliveries.png"), fullPage: true });

  // An auditor (no settings.manage) is refused, naming the permission.
  await signIn(page, "shop@e2e.test", "/admin/deliveries");
  await expect(page.getByTestId("admin-error").first()).toContainText("settings.manage");
});
