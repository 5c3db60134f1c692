import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { apiKey, hydrated, signIn } from "./support";

test("imported Okta events keep their own action names and are found by a dotted prefix", async ({ page, request, baseURL }) => {
  const project = `okta-${Date.now().toString(36)}`;
  const fixture = readFileSync(join(__dirname, "../../server/tests/fixtures/import/okta.jsonl"));
  const res = await request.post(`/api/v1/import?format=okta&project=${project}`, {
    headers: { Authorization: `Bearer ${apiKey(baseURL!)}` },
    data: fixture,
  });
  expect(res.status()).toBe(200);
  const summary = await res.json();
  expect([summary.read, summary.stored, summary.refused]).toEqual([5, 4, 1]);

  await signIn(page, "admin@e2e.test", `/?project=${project}&action=user.*`);
  await hydrated(page);
  const rows = page.getByTestId("event-row");
  await expect(rows).toHaveCount(2);
  await expect(rows.filter({ hasText: "user.session.start" })).toHaveCount(1);
  await expect(rows.filter({ hasText: "user.authentication.auth_via_mfa" })).toHaveCount(1);
  await page.screenshot({ path: "test-results/imported-prefix.png" });

  await rows.filter({ hasText: "user.session.start" }).click();
  const drawer = page.getByTestId("drawer");
  await expect(drawer).toContainText("dc9fd3c0-598c-11ef-8478-2b7584bf8d5a");
  await expect(drawer).toContainText("User login to Okta");
});
