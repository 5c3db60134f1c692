import { expect, test } from "@playwright/test";
import { hydrated, live, PASSWORD, post, signIn } from "./support";

test("a viewer's page holds the table's columns only, and not the access trail", async ({ page, request }) => {
  const marker = `hidden${Date.now().toString(36)}`;
  await post(request, [
    {
      occurred_at: new Date().toISOString(),
      module: "Secrets",
      action: "edit",
      description: `Listed ${marker}`,
      error: `E-${marker}`,
      user_agent: `UA-${marker}`,
      target: { type: "doc", id: `T-${marker}` },
      trace_id: `TR-${marker}`,
      details: { note: `D-${marker}` },
    },
  ]);
  await signIn(page, "viewer@e2e.test", `/?q=Listed+${marker}`);
  await hydrated(page);
  await expect(page.getByTestId("event-row")).toHaveCount(1);
  await expect(page.getByTestId("event-row")).toContainText(`Listed ${marker}`);
  const hidden = ["E-", "UA-", "T-", "TR-", "D-"].map((prefix) => prefix + marker);
  const rendered = await page.content();
  // The page source as the server sent it, hydration data included.
  const source = await (await page.request.get(`/?q=Listed+${marker}`)).text();
  expect(source).toContain(`Listed ${marker}`);
  for (const text of hidden) {
    expect(rendered).not.toContain(text);
    expect(source).not.toContain(text);
  }

  const projects = await page.getByTestId("f-project").locator("option").allTextContents();
  expect(projects.some((p) => p.startsWith("auditrail"))).toBe(false);
  await page.goto("/?project=auditrail");
  await expect(page.getByTestId("empty")).toBeVisible();
  await page.screenshot({ path: "test-results/viewer-no-trail.png" });
});

test("after sign-in, a next address that would leave the site goes home instead", async ({ page, baseURL }) => {
  // Browsers drop the tab, which would make this `//evil.example`.
  await page.goto("/sign-in?next=%2F%09%2Fevil.example");
  await page.getByLabel("Email").fill("viewer@e2e.test");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/sign-in"));
  const landed = new URL(page.url());
  expect(landed.origin).toBe(new URL(baseURL!).origin);
  expect(landed.pathname).toBe("/");
});

test("a link from another site asks first, and opens the page only from Auditrail itself", async ({ page, baseURL }) => {
  await signIn(page, "admin@e2e.test");
  const marker = `xsite${Date.now().toString(36)}`;
  // A page of no origin of ours links into Auditrail, as a mail or another site would.
  const elsewhere = await page.context().newPage();
  await elsewhere.setContent(`<a id="go" href="${baseURL}/?q=${marker}">open</a>`);
  await elsewhere.click("#go");
  await expect(elsewhere.getByTestId("continue")).toBeVisible();
  await expect(elsewhere.getByRole("heading", { name: "Auditrail" })).toBeVisible();
  await expect(elsewhere.getByTestId("event-row")).toHaveCount(0);
  await elsewhere.screenshot({ path: "test-results/cross-site-link.png" });

  await elsewhere.getByTestId("continue").click();
  await live(elsewhere);
  await expect(elsewhere).toHaveURL(new RegExp(`q=${marker}$`));
  await expect(elsewhere.getByTestId("empty")).toBeVisible();
});
