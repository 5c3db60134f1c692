import { expect, type APIRequestContext, test } from "@playwright/test";
import { apiKey, live, signIn } from "./support";

const stamp = () => Date.now().toString(36);

/** Posts a system message through the REST API, as an application would. */
async function raise(request: APIRequestContext, body: object) {
  const baseURL = test.info().project.use.baseURL!;
  const res = await request.post("/api/v1/messages", {
    headers: { Authorization: `Bearer ${apiKey(baseURL)}` },
    data: body,
  });
  expect(res.status()).toBe(201);
  return res.json();
}

test("messages count repeats, and are marked read and deleted one by one or all", async ({ page, request }) => {
  const s = stamp();
  const a = { category: "integration", module: "Salesforce sync", message: `Token refresh failed ${s}`, metadata: { tenant: "acme" }, error: "401 Unauthorized: the refresh token was revoked" };
  const b = { category: "webhooks", module: "Delivery", message: `Endpoint timed out ${s}` };
  await raise(request, a);
  expect((await raise(request, a)).count).toBe(2);
  await raise(request, b);

  await signIn(page, "admin@e2e.test", "/messages");
  await live(page);
  const rowA = page.locator('[data-testid="message"]', { hasText: a.message });
  const rowB = page.locator('[data-testid="message"]', { hasText: b.message });
  await expect(rowA.getByTestId("message-count")).toHaveText("2");
  await expect(rowA).toHaveAttribute("data-state", "unread");
  await expect(rowA).toContainText('{"tenant":"acme"}');
  await rowA.getByText("Error").click();
  await expect(rowA.getByTestId("message-error")).toHaveText(a.error);
  const badge = page.getByTestId("unread-badge");
  await expect(badge).toBeVisible();
  const unread = Number(await badge.textContent());
  expect(unread).toBeGreaterThanOrEqual(2);
  await page.screenshot({ path: "test-results/messages.png", fullPage: true });

  await rowA.getByTestId("mark-read").click();
  await expect(rowA).toHaveAttribute("data-state", "read");
  await expect(badge).toHaveText(String(unread - 1));

  await rowB.getByTestId("delete-message").click();
  await expect(rowB).toHaveCount(0);

  await page.getByTestId("read-all").click();
  await expect(page.locator('[data-testid="message"][data-state="unread"]')).toHaveCount(0);
  await expect(badge).toHaveCount(0);

  // The same message again is news: unread, counted up.
  await raise(request, a);
  await page.reload();
  await expect(rowA).toHaveAttribute("data-state", "unread");
  await expect(rowA.getByTestId("message-count")).toHaveText("3");
  await expect(page.getByTestId("unread-badge")).toBeVisible();

  await live(page);
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByTestId("delete-all").click();
  await expect(rowA).toHaveCount(0);
  await page.reload();
  await expect(rowA).toHaveCount(0);
});

test("people without messages.manage get no Messages link and a clear refusal", async ({ page }) => {
  await signIn(page, "viewer@e2e.test", "/");
  await live(page);
  await expect(page.getByTestId("account")).toBeVisible();
  await expect(page.getByTestId("messages-link")).toHaveCount(0);
  await page.goto("/messages");
  await expect(page.getByRole("alert")).toContainText("messages.manage");
});
